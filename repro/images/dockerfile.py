"""The run image's description: Dockerfile rendering and the image key (pure)."""
import hashlib
import os
import re
import string

from repro.images import closure
from repro.errors import BuildError

PACKAGE_DIR = closure.PACKAGE_DIR


def templates_dir(package_dir=PACKAGE_DIR):
    """A wheel ships the templates as package data (``repro/templates``); a
    source checkout keeps them at its top level (``templates/``)."""
    packaged = os.path.join(package_dir, 'templates')
    return packaged if os.path.isdir(packaged) else os.path.join(
        os.path.dirname(package_dir), 'templates')


TEMPLATES = os.environ.get('REPRO_TEMPLATES') or templates_dir()


def read_template(name):
    path = os.path.join(TEMPLATES, f'Dockerfile.{name}')
    try:
        with open(path, encoding='utf-8') as f:
            return f.read()
    except OSError as exc:
        raise BuildError(f'cannot read the Dockerfile template {path}: {exc.strerror}',
                         'reinstall repro, or point REPRO_TEMPLATES at the templates') from None


def quote_env(value):
    """A value for a Dockerfile ENV line: bare if plain, else double-quoted
    with ``\\``, ``"`` and ``$`` escaped (Docker would expand ``$``)."""
    if re.fullmatch(r'[A-Za-z0-9_./:,@+=-]*', value):
        return value
    return '"' + re.sub(r'([\\"$])', r'\\\1', value) + '"'


def render_dockerfile(template, base, python, lock_name, extra_env=()):
    """Fill a template: base reference, Python version, lock file, extra env."""
    env = ''.join(f' \\\n    {k}={quote_env(v)}' for k, v in extra_env)
    return string.Template(template).substitute(base=base, python=python, lock=lock_name,
                                                extra_env=env)


def image_key(base_digest, lock_bytes, dockerfile, closure_id):
    """The content key of a run image: equal inputs, equal key. Of repro it
    covers only the runtime closure (:mod:`repro.images.closure`), never the host side."""
    parts = [b'repro-image-key-v2', base_digest.encode(), hashlib.sha256(lock_bytes).digest(),
             hashlib.sha256(dockerfile.encode()).digest(), closure_id.encode()]
    return hashlib.sha256(b'\0'.join(parts)).hexdigest()


def instructions(text):
    """(INSTRUCTION, arguments) pairs of a Dockerfile, continuations joined."""
    logical, current = [], ''
    for line in text.splitlines():
        if not current and (not line.strip() or line.lstrip().startswith('#')):
            continue
        if line.rstrip().endswith('\\'):
            current += line.rstrip()[:-1] + ' '
            continue
        logical.append(current + line)
        current = ''
    return [(ln.split(None, 1)[0].upper(), ln.split(None, 1)[1].strip()) for ln in logical]


def split_env(arguments):
    """``K=V`` words of an ENV line as Docker reads them (pure): whitespace
    separates words; inside double quotes ``\\`` escapes ``\\``, ``"``, ``$``."""
    words, word, quoted, i = [], '', False, 0
    while i < len(arguments):
        char = arguments[i]
        if char == '\\' and i + 1 < len(arguments):
            word += arguments[i + 1]
            i += 2
            continue
        if char == '"':
            quoted = not quoted
        elif char.isspace() and not quoted:
            if word:
                words.append(word)
            word = ''
        else:
            word += char
        i += 1
    return words + ([word] if word else [])


def image_settings(text):
    """The ENV (as ``K=V`` strings) and WORKDIR the Dockerfile declares."""
    env, workdir = [], None
    for name, arguments in instructions(text):
        if name == 'ENV':
            env.extend(split_env(arguments))
        elif name == 'WORKDIR':
            workdir = arguments
    return env, workdir
