"""Dependency locking with pip-tools (the only module that runs pip-compile).

The input becomes ``requirements.lock``: every package pinned with
``--generate-hashes``, no index URLs, find-links or local paths inside, so
the lock means the same on any machine. Its first line records the sha256
of the input; a lock whose input changed since is stale and ``repro run``
refuses it.

The input is the first that exists of: ``requirements.in`` (what you mean
to depend on), ``[project.dependencies]`` of pyproject.toml, and
``requirements.txt`` (the pinned file most research repositories carry, so
they lock as they are). requirements.txt is also passed as constraints
(``-c``), so its pins hold in the lock whatever else is resolved.
"""
import hashlib
import os
import re
import sys
import tempfile
import tomllib

from repro.core._fs import atomic_writer
from repro.errors import LockError
from repro.core.safefs import display
from repro.record.tools import run_tool

LOCK_NAME = 'requirements.lock'
INPUT_NAME = 'requirements.in'
HEADER = '# repro-lock-input-sha256: '
# repro.runtime runs inside every image and needs these two; `repro lock`
# adds them to what it resolves (the input hash stays that of your file).
RUNTIME_PACKAGES = ('numpy', 'cloudpickle')


PINNED_NAME = 'requirements.txt'
PYPROJECT_SOURCE = 'pyproject.toml [project.dependencies]'
# Lines that point at other files or local paths: pip-compile runs in a
# temporary directory (they would not be found), and a lock naming local
# paths would not mean the same elsewhere.
_LOCAL = re.compile(r'^(-r|--requirement|-c|--constraint|-e|--editable)(\s|=|$)'
                    r'|^[./~]|file:')


def _read_input(project_root, name):
    path = os.path.join(project_root, name)
    if not os.path.exists(path):
        return None
    try:
        with open(path, encoding='utf-8') as f:
            return f.read()
    except UnicodeDecodeError:
        raise LockError(f'{name} is not UTF-8 text') from None


def _pyproject_dependencies(project_root):
    """``[project.dependencies]`` as requirement lines, or None if not declared."""
    pyproject = os.path.join(project_root, 'pyproject.toml')
    if not os.path.exists(pyproject):
        return None
    with open(pyproject, 'rb') as f:
        try:
            project = tomllib.load(f).get('project', {})
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise LockError(f'pyproject.toml is not valid TOML: {exc}') from None
    deps = project.get('dependencies') if isinstance(project, dict) else None
    if deps is not None and (not isinstance(deps, list)
                             or not all(isinstance(d, str) for d in deps)):
        raise LockError('[project.dependencies] must be a list of strings')
    return None if deps is None else ''.join(d + '\n' for d in deps)


def check_portable(source, text):
    """``text``, or a LockError naming its first line that refers to a local file."""
    for number, line in enumerate(text.splitlines(), 1):
        line = re.sub(r'(^|\s)#.*', '', line).strip()
        if _LOCAL.search(line):
            raise LockError(f'{source} line {number} refers to a local file ({display(line)}), '
                            'which a lock cannot carry to another machine',
                            f'list released packages in {INPUT_NAME} (it takes precedence)')
    return text


def lock_inputs(project_root):
    """(source name, requirements text) the lock is made from: requirements.in,
    else [project.dependencies], else requirements.txt."""
    text = _read_input(project_root, INPUT_NAME)
    source = INPUT_NAME
    if text is None:
        text, source = _pyproject_dependencies(project_root), PYPROJECT_SOURCE
    if text is None:
        text, source = _read_input(project_root, PINNED_NAME), PINNED_NAME
    if text is None:
        raise LockError(f'no {INPUT_NAME}, [project.dependencies] or {PINNED_NAME} in '
                        f'{display(project_root)}',
                        f'list your packages in {INPUT_NAME} or {PINNED_NAME}, then run '
                        '`repro lock`')
    return source, check_portable(source, text)


def input_sha256(text):
    """Hash of the lock's inputs (pure): what staleness is judged by."""
    return hashlib.sha256(text.encode('utf-8')).hexdigest()


def recorded_input_sha256(lock_text):
    first = lock_text.splitlines()[0] if lock_text else ''
    return first[len(HEADER):].strip() if first.startswith(HEADER) else None


def check_lock(project_root):
    """Path and bytes of an up-to-date lock; LockError if missing or stale."""
    path = os.path.join(project_root, LOCK_NAME)
    try:
        with open(path, 'rb') as f:
            data = f.read()
    except FileNotFoundError:
        source, _text = lock_inputs(project_root)  # nothing to lock: that error instead
        raise LockError(f'{LOCK_NAME} is missing', f'run `repro lock`: it locks {source}') \
            from None
    _source, text = lock_inputs(project_root)
    try:
        lock_text = data.decode('utf-8')
    except UnicodeDecodeError:
        raise LockError(f'{LOCK_NAME} is not UTF-8 text', 'run `repro lock`') from None
    if recorded_input_sha256(lock_text) != input_sha256(text):
        raise LockError(f'{LOCK_NAME} is stale: its inputs changed since it was made',
                        'run `repro lock`')
    missing = [p for p in RUNTIME_PACKAGES
               if not re.search(rf'^{p}==', lock_text, re.MULTILINE | re.IGNORECASE)]
    if missing:
        raise LockError(f'{LOCK_NAME} lacks {", ".join(missing)}, which repro\'s runtime '
                        'needs inside the image', 'run `repro lock` (it adds them)')
    return path, data


RUNTIME_INPUT = 'repro-runtime.in'  # RUNTIME_PACKAGES, beside the input: '# via' says why


def input_file(source):
    """The file name pip-compile reads ``source``'s text from (pure)."""
    return PINNED_NAME if source == PINNED_NAME else INPUT_NAME


def compile_command(source, python=sys.executable):
    """pip-compile's argument list for the input ``source`` (pure).

    Names are relative (pip-compile writes them into '# via' comments) and
    no index is named: pip uses its own configuration.
    """
    name = input_file(source)
    constraints = ['--constraint', name] if source == PINNED_NAME else []
    return ([python, '-m', 'piptools', 'compile', '--quiet', '--generate-hashes',
             '--no-emit-index-url', '--no-emit-find-links', '--strip-extras',
             '--allow-unsafe', '--no-header', *constraints, '--output-file', LOCK_NAME,
             name, RUNTIME_INPUT])


def compile_lock(project_root, python=sys.executable):
    """Run pip-compile and write ``requirements.lock``; returns its path."""
    source, text = lock_inputs(project_root)
    out = os.path.join(project_root, LOCK_NAME)
    with tempfile.TemporaryDirectory(prefix='repro-lock-') as tmp:
        for name, content in ((input_file(source), text),
                              (RUNTIME_INPUT, ''.join(f'{p}\n' for p in RUNTIME_PACKAGES))):
            with open(os.path.join(tmp, name), 'w', encoding='utf-8') as f:
                f.write(content)
        run_tool(compile_command(source, python), error=LockError, what='pip-compile',
                 cwd=tmp)
        with open(os.path.join(tmp, LOCK_NAME), encoding='utf-8') as f:
            body = f.read()
    header = (f'{HEADER}{input_sha256(text)}\n'
              f'# Made by `repro lock` from {source} with pip-compile --generate-hashes.\n'
              '# Do not edit: change the inputs and run `repro lock` again.\n')
    with atomic_writer(out, 'w') as f:
        f.write(header + body)
    return out
