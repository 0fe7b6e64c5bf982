"""Helpers for tests that drive `repro` in real containers (not fixtures)."""
import json
import os
import pathlib
import subprocess
import sys
import time

import pytest

from repro.store.manifest import RECORD_NAMES, sha256_file

ROOT = pathlib.Path(__file__).resolve().parent.parent
SCHEMA = ROOT / 'repro' / 'schemas' / 'manifest-v1.schema.json'


def git_project(root, files):
    """A committed git repository at ``root`` holding ``files`` {name: text}."""
    root.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (root / name).write_text(text)
    for args in (['init', '-q'], ['add', '.'],
                 ['-c', 'user.name=t', '-c', 'user.email=t@e', 'commit', '-qm', 'init']):
        subprocess.run(['git', '-C', str(root), *args], check=True, capture_output=True)
    return root


def lock_files():
    """requirements.in/.lock of this repository, as git_project files."""
    return {name: (ROOT / name).read_text() for name in ('requirements.in', 'requirements.lock')}


def repro(*args, cwd=ROOT, home=None, check=True):
    env = dict(os.environ, REPRO_HOME=str(home)) if home else dict(os.environ)
    result = subprocess.run([sys.executable, '-m', 'repro', *map(str, args)], cwd=cwd,
                            env=env, capture_output=True, text=True, timeout=1200)
    if check:
        assert result.returncode == 0, result.stderr[-3000:]
    return result


def run_id_of(result):
    """(run id, status) from the last line of `repro run` (a result or its stdout)."""
    stdout = result if isinstance(result, str) else result.stdout
    last = stdout.strip().splitlines()[-1].split()
    assert last[0] == 'run' and len(last) == 3, stdout[-500:]
    return last[1], last[2]


def manifest(home, run_id):
    return json.loads((home / 'runs' / run_id / 'manifest.json').read_text())


def check_manifest(home, data):
    jsonschema = pytest.importorskip('jsonschema')
    jsonschema.validate(data, json.loads(SCHEMA.read_text()))
    run_dir = home / 'runs' / data['run_id']
    on_disk = sorted(str(p.relative_to(run_dir)) for p in run_dir.rglob('*')
                     if p.is_file() and p.relative_to(run_dir).as_posix() not in RECORD_NAMES)
    assert [a['path'] for a in data['artifacts']] == on_disk
    for artifact in data['artifacts']:
        assert sha256_file(run_dir / artifact['path']) == artifact['sha256']
    for path in run_dir.rglob('*'):  # no root-owned files for a normal user
        assert path.lstat().st_uid == os.getuid(), path


def progress_csv(home, run_id):
    (path,) = (home / 'runs' / run_id / 'outputs').rglob('progress.csv')
    return path


PROBE = r'''
import argparse, json, os, sys
parser = argparse.ArgumentParser()
parser.add_argument('--exit-code', type=int, default=0)
parser.add_argument('--tag')
args = parser.parse_args()
status = dict(line.split(':\t', 1) for line in open('/proc/self/status').read().splitlines()
              if ':\t' in line)
try:
    open('/src/written-by-run', 'w').write('x')
    src_writable = True
except OSError:
    src_writable = False
report = {
    'argv': sys.argv[1:], 'uid': os.getuid(), 'gid': os.getgid(),
    'interfaces': sorted(os.listdir('/sys/class/net')),
    'src_writable': src_writable,
    'cap_eff': status['CapEff'].strip(), 'no_new_privs': status['NoNewPrivs'].strip(),
    'docker_socket': os.path.exists('/var/run/docker.sock') or os.path.exists('/run/docker.sock'),
    'seed_env': os.environ.get('REPRO_SEED'), 'hashseed': os.environ.get('PYTHONHASHSEED'),
    'secret_env': [k for k in os.environ if 'SECRET' in k or 'TOKEN' in k],
}
json.dump(report, open('probe.json', 'w'))
sys.exit(args.exit_code)
'''


def start_sleeper(project, home, **popen):
    """Start `repro run` of a launcher that sleeps; return (process, run id)
    once the launcher is running inside its container."""
    (project / 'sleeper.py').write_text(
        'import time\nprint("started", flush=True)\ntime.sleep(300)\n')
    proc = subprocess.Popen([sys.executable, '-m', 'repro', 'run', 'sleeper.py'], cwd=project,
                            env=dict(os.environ, REPRO_HOME=str(home)), **popen)
    deadline = time.time() + 300
    while time.time() < deadline:
        logs = list(home.glob('runs/*/logs/stdout.log'))
        if logs and 'started' in logs[0].read_text():
            return proc, logs[0].parent.parent.name
        time.sleep(0.5)
    proc.kill()
    raise AssertionError('the sleeper never started')


def small_lock_files(tag, names=('numpy', 'cloudpickle')):
    """requirements.in/.lock pinning only ``names``, cut from this repo's lock.

    The image needs no pip-compile (no network) and builds in seconds;
    ``tag`` goes into a comment so the lock, and so its venv layer, is new.
    """
    from repro.record.locking import HEADER, input_sha256
    blocks, current = {}, None
    for line in (ROOT / 'requirements.lock').read_text().splitlines():
        if line and not line.startswith((' ', '#')):
            current = line.split('==')[0]
            blocks[current] = []
        if current and not line.lstrip().startswith('#'):
            blocks[current].append(line)
    text = ''.join(f'{name}\n' for name in names)
    body = '\n'.join(line for name in names for line in blocks[name])
    return {'requirements.in': text,
            'requirements.lock': f'{HEADER}{input_sha256(text)}\n# {tag}\n{body}\n'}
