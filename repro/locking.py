"""Dependency locking with pip-tools (the only module that runs pip-compile).

``requirements.in`` (or ``[project.dependencies]`` of pyproject.toml) becomes
``requirements.lock``: every package pinned with ``--generate-hashes``, no
index URLs, find-links or local paths inside, so the lock means the same on
any machine. Its first line records the sha256 of the inputs; a lock whose
inputs changed since is stale and ``repro run`` refuses it.
"""
import hashlib
import os
import re
import subprocess
import sys
import tempfile
import tomllib

from repro._fs import atomic_writer
from repro.errors import LockError

LOCK_NAME = 'requirements.lock'
INPUT_NAME = 'requirements.in'
HEADER = '# repro-lock-input-sha256: '
# repro.runtime runs inside every image and needs these two; `repro lock`
# adds them to what it resolves (the input hash stays that of your file).
RUNTIME_PACKAGES = ('numpy', 'cloudpickle')


def lock_inputs(project_root):
    """(source name, requirements text) the lock is made from."""
    req_in = os.path.join(project_root, INPUT_NAME)
    if os.path.exists(req_in):
        try:
            with open(req_in, encoding='utf-8') as f:
                return INPUT_NAME, f.read()
        except UnicodeDecodeError:
            raise LockError(f'{INPUT_NAME} is not UTF-8 text') from None
    pyproject = os.path.join(project_root, 'pyproject.toml')
    if os.path.exists(pyproject):
        with open(pyproject, 'rb') as f:
            try:
                project = tomllib.load(f).get('project', {})
            except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
                raise LockError(f'pyproject.toml is not valid TOML: {exc}') from None
        deps = project.get('dependencies') if isinstance(project, dict) else None
        if deps is not None:
            if not isinstance(deps, list) or not all(isinstance(d, str) for d in deps):
                raise LockError('[project.dependencies] must be a list of strings')
            return 'pyproject.toml [project.dependencies]', ''.join(d + '\n' for d in deps)
    raise LockError(f'no {INPUT_NAME} or [project.dependencies] in {project_root}',
                    f'list your packages in {INPUT_NAME}')


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
        raise LockError(f'{LOCK_NAME} is missing', 'run `repro lock`') from None
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


def compile_lock(project_root, python=sys.executable):
    """Run pip-compile and write ``requirements.lock``; returns its path."""
    source, text = lock_inputs(project_root)
    out = os.path.join(project_root, LOCK_NAME)
    with tempfile.TemporaryDirectory(prefix='repro-lock-') as tmp:
        # Relative names: pip-compile writes them into '# via' comments.
        req_in, req_out = os.path.join(tmp, INPUT_NAME), os.path.join(tmp, LOCK_NAME)
        with open(req_in, 'w', encoding='utf-8') as f:
            f.write(text.rstrip('\n') + '\n' + ''.join(f'{p}\n' for p in RUNTIME_PACKAGES))
        cmd = [python, '-m', 'piptools', 'compile', '--quiet', '--generate-hashes',
               '--no-emit-index-url', '--no-emit-find-links', '--strip-extras',
               '--allow-unsafe', '--no-header', '--output-file', LOCK_NAME, INPUT_NAME]
        result = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp)
        if result.returncode != 0:
            lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
            raise LockError('pip-compile failed: ' + (lines[-1] if lines else 'no output'))
        with open(req_out, encoding='utf-8') as f:
            body = f.read()
    header = (f'{HEADER}{input_sha256(text)}\n'
              f'# Made by `repro lock` from {source} with pip-compile --generate-hashes.\n'
              '# Do not edit: change the inputs and run `repro lock` again.\n')
    with atomic_writer(out, 'w') as f:
        f.write(header + body)
    return out
