"""Table of bad inputs across every command: one line, exit != 0, no traceback,
nothing written to the store. Docker is pointed at a socket that does not
exist, so nothing here can reach an engine."""
import hashlib
import os
import shutil
import subprocess
import sys

import pytest

from repro.store.runs import RunStore
from tests.conftest import ROOT
from tests.helpers import example_manifest
from tests.helpers import one_line_error

RUN_A = '20261124-021000-train-s0-aaaa'
RUN_B = '20261124-021000-train-s1-aaab'
RUNNING = '20261124-021100-train-s2-bbbb'
CORRUPT = '20261124-021200-train-s3-cccc'
FUTURE = '20261124-021300-train-s4-dddd'


@pytest.fixture(scope='module')
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp('bad') / 'proj'
    root.mkdir()
    subprocess.run(['git', 'init', '-q', str(root)], check=True)
    (root / 'train.py').write_text('print(1)\n')
    (root / 'sub').mkdir()
    shutil.copy(ROOT / 'requirements.in', root)
    shutil.copy(ROOT / 'requirements.lock', root)
    store = RunStore(root / '.repro').ensure()
    for run_id, status, fmt in ((RUN_A, 'succeeded', 1), (RUN_B, 'succeeded', 1),
                                (RUNNING, 'running', 1), (FUTURE, 'succeeded', 9)):
        os.makedirs(store.run_dir(run_id))
        manifest = example_manifest()
        manifest.update(run_id=run_id, status=status, format=fmt)
        store.write_manifest(run_id, manifest)
    os.makedirs(store.run_dir(CORRUPT))
    with open(store.manifest_path(CORRUPT), 'w') as f:
        f.write('{"format": 1, "run_id": ')
    lock = (root / 'requirements.lock').read_bytes()
    store.put_object(hashlib.sha256(lock).hexdigest(), lock)
    return root


CASES = [
    (['run', 'missing.py'], 'launcher not found'),
    (['run', 'sub'], 'is a directory'),
    (['run', 'train.py', '--seed', '-3'], "Invalid value for '--seed'"),
    (['run', 'train.py', '--seed', 'abc'], "Invalid value for '--seed'"),
    (['run', 'train.py', '--seed', '1.5'], "Invalid value for '--seed'"),
    (['run', 'train.py'], 'cannot reach the Docker daemon'),
    (['run'], "Missing argument 'launcher'"),
    (['show', '20261124-0210'], 'matches 2 runs'),
    (['show', '1999'], 'no run matches'),
    (['show', '../../etc/passwd'], 'not a valid run id'),
    (['show', '.'], 'not a valid run id'),
    (['show', CORRUPT], 'not valid JSON'),
    (['show', FUTURE], 'format 9 is not supported'),
    (['verify', 'nope'], 'no run matches'),
    (['replay', RUNNING], 'still running or never finished'),
    (['replay', FUTURE], 'format 9 is not supported'),
    (['replay', 'x/y'], 'not a valid run id'),
    (['export', RUN_A, '--format', 'spdx'], 'unknown export format'),
    (['export', 'nope'], 'no run matches'),
    (['diff', RUN_A, 'nope'], 'no run matches'),
    (['plot', RUN_A, '-o', 'x.png'], 'no progress.csv'),
    (['plot', RUN_A], "Missing option '-o'"),
    (['base', '--mirror'], "requires an argument"),
    (['build', '--bogus'], 'No such option'),
    (['frobnicate'], 'No such command'),
    (['sign', RUN_A], 'no signing key: set REPRO_SIGNING_KEY'),
    (['sign', RUN_A, '--key', 'missing.key'], 'cannot read the signing key'),
    (['sign', RUN_A, '--key', 'train.py'], 'not a PEM private key'),
    (['verify', RUN_A, '--key', 'missing.pub'], 'cannot read the public key'),
    (['verify', RUN_A, '--policy', 'policy.toml'], '--policy needs --key'),
    (['verify', '--store', '--key', 'x.pub'], 'give exactly one of RUN or --store'),
    (['export', RUN_B, '--format', 'dsse'], 'not exporting it'),
    (['key', 'generate', '--out', 'train.py'], 'cannot write the key pair into train.py'),
]


def snapshot_files(root):
    return sorted((str(p.relative_to(root)), p.stat().st_size)
                  for p in root.rglob('*') if p.is_file() and '.git/' not in str(p))


def refused_in_one_line(root, args, message):
    """`repro ARGS` in ``root`` fails with one line naming ``message`` and
    writes nothing (Docker points at a socket that does not exist)."""
    before = snapshot_files(root)
    env = {**os.environ, 'DOCKER_HOST': f'unix://{root}/no-docker.sock'}
    for name in ('REPRO_HOME', 'REPRO_SIGNING_KEY', 'REPRO_KEY_PASSPHRASE'):
        env.pop(name, None)
    result = subprocess.run([sys.executable, '-m', 'repro', *args], cwd=root, env=env,
                            capture_output=True, text=True, timeout=120)
    one_line_error(result, message)
    assert snapshot_files(root) == before  # nothing half-written


@pytest.mark.parametrize('args, message', CASES, ids=[' '.join(a) for a, _ in CASES])
def test_bad_input(project, args, message):
    refused_in_one_line(project, args, message)


def test_there_are_at_least_twenty_cases():
    assert len(CASES) + len(FILE_CASES) >= 20


FILE_CASES = [
    ('requirements.lock', None, ['run', 'train.py'], 'requirements.lock is missing'),
    ('requirements.lock', 'garbage\n', ['run', 'train.py'], 'requirements.lock is stale'),
    ('requirements.lock', 'TRUNCATE', ['run', 'train.py'], 'lacks numpy'),
    ('pyproject.toml', '[tool.repro]\npython = 3\n', ['run', 'train.py'],
     'python must look like "3.11"'),
    ('pyproject.toml', '[tool.repro]\nenv = "x"\n', ['build', '--dry-run'], 'env must map'),
    ('pyproject.toml', '[tool.repro\n', ['build', '--dry-run'], 'not valid TOML'),
    ('requirements.lock', b'\xff\xfe\x00bad', ['run', 'train.py'], 'requirements.lock'),
]


@pytest.mark.parametrize('name, content, args, message', FILE_CASES,
                         ids=[f'{c[0]}-{i}' for i, c in enumerate(FILE_CASES)])
def test_bad_project_files(tmp_path, name, content, args, message):
    """Missing, corrupt and wrongly typed project files, each in a fresh copy."""
    root = tmp_path / 'proj'
    root.mkdir()
    subprocess.run(['git', 'init', '-q', str(root)], check=True)
    (root / 'train.py').write_text('print(1)\n')
    for lock_name in ('requirements.in', 'requirements.lock'):
        shutil.copy(ROOT / lock_name, root)
    path = root / name
    if content is None:
        path.unlink()
    elif content == 'TRUNCATE':
        path.write_bytes(path.read_bytes()[:300])
    else:
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    refused_in_one_line(root, args, message)
    assert not (root / '.repro').exists()


def test_unwritable_store_for_readers(tmp_path):
    (tmp_path / 'a-file').write_text('')
    env = {**os.environ, 'REPRO_HOME': str(tmp_path / 'a-file' / 'store')}
    result = subprocess.run([sys.executable, '-m', 'repro', 'ls'], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode != 0 and 'Traceback' not in result.stderr
    assert result.stderr.strip().splitlines() == [
        f'repro: error: Not a directory: {tmp_path}/a-file/store/runs']
