"""The run image's description: Dockerfile rendering and the image key (pure)."""
import hashlib
import os
import re
import string

import repro

TEMPLATES = os.environ.get('REPRO_TEMPLATES') or os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(repro.__file__))), 'templates')
PACKAGE_DIR = os.path.dirname(os.path.abspath(repro.__file__))


def read_template(name):
    path = os.path.join(TEMPLATES, f'Dockerfile.{name}')
    with open(path, encoding='utf-8') as f:
        return f.read()


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


def package_files(package_dir=PACKAGE_DIR):
    """repro's own files as (relative path, bytes), sorted; no caches."""
    files = []
    for dirpath, dirnames, filenames in os.walk(package_dir):
        dirnames[:] = sorted(d for d in dirnames if d != '__pycache__')
        for name in sorted(filenames):
            if name.endswith(('.py', '.json')):
                path = os.path.join(dirpath, name)
                with open(path, 'rb') as f:
                    files.append((os.path.relpath(path, package_dir).replace(os.sep, '/'),
                                  f.read()))
    return files


def package_hash(files):
    """sha256 over repro's (path, content) pairs: changes when repro does."""
    digest = hashlib.sha256()
    for rel, data in files:
        digest.update(rel.encode() + b'\0' + hashlib.sha256(data).digest())
    return digest.hexdigest()


def image_key(base_digest, lock_bytes, dockerfile, repro_hash):
    """The content key of a run image: equal inputs, equal key."""
    parts = [b'repro-image-key-v1', base_digest.encode(), hashlib.sha256(lock_bytes).digest(),
             hashlib.sha256(dockerfile.encode()).digest(), repro_hash.encode()]
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
