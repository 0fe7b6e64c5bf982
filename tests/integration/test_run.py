"""`repro run` end to end: real Docker, real git, the real lock."""
import json
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

from repro.manifest import sha256_file
from tests.conftest import ROOT

pytestmark = pytest.mark.docker
SCHEMA = ROOT / 'repro' / 'schemas' / 'manifest-v1.schema.json'


def repro(*args, cwd=ROOT, home=None, check=True):
    env = dict(os.environ, REPRO_HOME=str(home)) if home else dict(os.environ)
    result = subprocess.run([sys.executable, '-m', 'repro', *map(str, args)], cwd=cwd,
                            env=env, capture_output=True, text=True, timeout=1200)
    if check:
        assert result.returncode == 0, result.stderr[-3000:]
    return result


def run_id_of(result):
    last = result.stdout.strip().splitlines()[-1].split()
    assert last[0] == 'run' and len(last) == 3, result.stdout[-500:]
    return last[1], last[2]


def manifest(home, run_id):
    return json.loads((home / 'runs' / run_id / 'manifest.json').read_text())


def check_manifest(home, data):
    jsonschema = pytest.importorskip('jsonschema')
    jsonschema.validate(data, json.loads(SCHEMA.read_text()))
    run_dir = home / 'runs' / data['run_id']
    on_disk = sorted(str(p.relative_to(run_dir)) for p in run_dir.rglob('*')
                     if p.is_file() and p.name != 'manifest.json')
    assert [a['path'] for a in data['artifacts']] == on_disk
    for artifact in data['artifacts']:
        assert sha256_file(run_dir / artifact['path']) == artifact['sha256']
    for path in run_dir.rglob('*'):  # no root-owned files for a normal user
        assert path.lstat().st_uid == os.getuid(), path


def progress_csv(home, run_id):
    (path,) = (home / 'runs' / run_id / 'outputs').rglob('progress.csv')
    return path


@pytest.fixture(scope='module')
def home(tmp_path_factory, base_image):
    return tmp_path_factory.mktemp('store')


@pytest.mark.parametrize('example', ['cartpole_cem', 'cartpole_vpg'])
def test_examples_run_in_containers_and_rerun_identically(home, example):
    first = repro('run', f'examples/{example}.py', '--seed', '0', '--', '--n-epochs', '2',
                  home=home)
    second = repro('run', f'examples/{example}.py', '--seed', '0', '--', '--n-epochs', '2',
                   home=home)
    (id1, status1), (id2, status2) = run_id_of(first), run_id_of(second)
    assert status1 == status2 == 'succeeded' and id1 != id2
    m1, m2 = manifest(home, id1), manifest(home, id2)
    for m in (m1, m2):
        check_manifest(home, m)
        assert m['status'] == 'succeeded' and m['exit_code'] == 0
        assert m['seed'] == 0 and m['args'] == ['--n-epochs', '2']
        assert m['network'] is False
        assert m['determinism']['seed'] == 0 and m['determinism']['deterministic'] is True
        assert m['command'][:3] == ['repro', 'run', f'examples/{example}.py']
        assert m['replay'] == ['repro', 'replay', m['run_id']]
    assert 'reusing image' in second.stderr
    assert m1['image'] == m2['image'] and m1['git'] == m2['git']
    assert progress_csv(home, id1).read_bytes() == progress_csv(home, id2).read_bytes()
    head = subprocess.run(['git', '-C', str(ROOT), 'rev-parse', 'HEAD'], capture_output=True,
                          text=True).stdout.strip()
    assert m1['git']['commit'] == head


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


@pytest.fixture(scope='module')
def probe_project(tmp_path_factory, base_image):
    """A repository holding only a script and its lock (no pyproject.toml)."""
    root = tmp_path_factory.mktemp('probe')
    shutil.copy(ROOT / 'requirements.in', root)
    shutil.copy(ROOT / 'requirements.lock', root)
    (root / 'probe.py').write_text(PROBE)
    for args in (['init', '-q'], ['add', '.'],
                 ['-c', 'user.name=t', '-c', 'user.email=t@e', 'commit', '-qm', 'probe']):
        subprocess.run(['git', '-C', str(root), *args], check=True)
    return root


def test_container_is_confined(probe_project, tmp_path, monkeypatch):
    home = tmp_path / 'store'
    env_secret = {'AWS_SECRET_ACCESS_KEY': 'AKIAFAKESECRET', 'GITHUB_TOKEN': 'ghp_faketoken'}
    monkeypatch.setattr(os, 'environ', {**os.environ, **env_secret})
    result = repro('run', 'probe.py', '--seed', '7', '--', '--tag', 'a b', '--exit-code', '0',
                   cwd=probe_project, home=home)
    run_id, status = run_id_of(result)
    report = json.loads(next((home / 'runs' / run_id).rglob('probe.json')).read_text())
    assert report['argv'] == ['--tag', 'a b', '--exit-code', '0']  # verbatim
    assert (report['uid'], report['gid']) == (os.getuid(), os.getgid())
    assert report['interfaces'] == ['lo']  # networking off
    assert report['src_writable'] is False
    assert int(report['cap_eff'], 16) == 0 and report['no_new_privs'] == '1'
    assert report['docker_socket'] is False
    assert report['seed_env'] == '7' and report['hashseed'] == '0'
    assert report['secret_env'] == []
    text = (home / 'runs' / run_id / 'manifest.json').read_text()
    assert 'AKIAFAKESECRET' not in text and 'ghp_faketoken' not in text
    check_manifest(home, json.loads(text))


def test_exit_code_of_the_launcher_is_repros(probe_project, tmp_path):
    home = tmp_path / 'store'
    result = repro('run', 'probe.py', '--', '--exit-code', '3', cwd=probe_project, home=home,
                   check=False)
    assert result.returncode == 3
    run_id, status = run_id_of(result)
    assert status == 'failed' and manifest(home, run_id)['exit_code'] == 3


def test_deleted_image_is_rebuilt_to_the_same_id(engine, home):
    """Bit-reproducible images: delete the image and its cached layers, rebuild."""
    from repro.config import load_config
    from repro.image import ensure_image, plan_image, remove_cached_layers
    lock = (ROOT / 'requirements.lock').read_bytes()
    plan = plan_image(engine, load_config(str(ROOT)), 'requirements.lock', lock)
    first, _ = ensure_image(engine, plan, progress=lambda m: None)
    engine.remove_image(first)
    remove_cached_layers()
    again, built = ensure_image(engine, plan, progress=lambda m: None)
    assert built and again == first


def start_sleeper(project, home, **popen):
    """Start `repro run` of a launcher that sleeps; return (process, run id)
    once the launcher is running inside its container."""
    import time
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


def test_ctrl_c_stops_the_container_and_records_interrupted(probe_project, tmp_path, engine):
    import signal
    home = tmp_path / 'store'
    proc, _ = start_sleeper(probe_project, home, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-2000:]
    run_id, status = run_id_of(type('R', (), {'stdout': out})())
    assert status == 'interrupted'
    data = manifest(home, run_id)
    assert data['status'] == 'interrupted' and data['end_time']
    import docker
    running = [c for c in docker.from_env().containers.list()
               if c.attrs['Config'].get('Env') and f'REPRO_RUN_ID={run_id}' in
               c.attrs['Config']['Env']]
    assert running == []
    (probe_project / 'sleeper.py').unlink()


def test_ignored_launcher_is_refused_before_any_run_dir(probe_project, tmp_path):
    home = tmp_path / 'store'
    (probe_project / '.gitignore').write_text('secret_*.py\n')
    (probe_project / 'secret_train.py').write_text('print(1)\n')
    try:
        result = repro('run', 'secret_train.py', cwd=probe_project, home=home, check=False)
        assert result.returncode == 2
        assert 'not in the source snapshot' in result.stderr
        assert 'Traceback' not in result.stderr
        assert not list(home.glob('runs/*'))
    finally:
        (probe_project / '.gitignore').unlink()
        (probe_project / 'secret_train.py').unlink()


def test_secrets_never_reach_manifest_or_export_and_diff_tokens_are_warned(
        probe_project, tmp_path):
    home = tmp_path / 'store'
    token = 'ghp_' + 'Z' * 36
    git_token = 'ghp_' + 'Y' * 36
    subprocess.run(['git', '-C', str(probe_project), 'remote', 'add', 'origin',
                    f'https://user:{git_token}@github.com/o/r.git'], check=True)
    (probe_project / 'creds.py').write_text(f'TOKEN = "{token}"\n')
    try:
        result = repro('run', 'probe.py', cwd=probe_project, home=home)
        assert 'warning: possible GitHub token in uncommitted creds.py:1' in result.stderr
        assert token not in result.stderr and git_token not in result.stderr
        run_id, _ = run_id_of(result)
        text = (home / 'runs' / run_id / 'manifest.json').read_text()
        assert token not in text and git_token not in text
        assert '"remote": "https://github.com/o/r.git"' in text
        export = repro('export', run_id, cwd=probe_project, home=home).stdout
        assert token not in export and git_token not in export
        for log in (home / 'runs' / run_id / 'logs').rglob('*'):
            assert git_token not in log.read_text()
    finally:
        subprocess.run(['git', '-C', str(probe_project), 'remote', 'remove', 'origin'])
        (probe_project / 'creds.py').unlink()


def test_eight_parallel_runs_build_once(tmp_path, base_image):
    import uuid
    root = tmp_path / 'parallel'
    root.mkdir()
    for name in ('requirements.in', 'requirements.lock'):
        shutil.copy(ROOT / name, root)
    # A fresh key (extra env), so the eight runs race to build the same image.
    (root / 'pyproject.toml').write_text(
        f'[tool.repro]\nenv = {{ REPRO_TEST_KEY = "{uuid.uuid4().hex}" }}\n')
    (root / 'trivial.py').write_text('import os\nprint(os.environ["REPRO_TEST_KEY"])\n')
    for args in (['init', '-q'], ['add', '.'],
                 ['-c', 'user.name=t', '-c', 'user.email=t@e', 'commit', '-qm', 'p']):
        subprocess.run(['git', '-C', str(root), *args], check=True)
    home = tmp_path / 'store'
    env = dict(os.environ, REPRO_HOME=str(home))
    procs = [subprocess.Popen([sys.executable, '-m', 'repro', 'run', 'trivial.py', '--seed',
                               str(i)], cwd=root, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for i in range(8)]
    outputs = [p.communicate(timeout=900) for p in procs]
    assert [p.returncode for p in procs] == [0] * 8, [e[-500:] for _, e in outputs]
    ids = {run_id_of(type('R', (), {'stdout': out})())[0] for out, _ in outputs}
    assert len(ids) == 8
    assert sum('building image' in err for _, err in outputs) == 1
    images = {manifest(home, i)['image']['id'] for i in ids}
    assert len(images) == 1
    for run_id in ids:
        check_manifest(home, manifest(home, run_id))


def test_sigkill_of_repro_leaves_no_container_and_no_running_manifest(probe_project, tmp_path):
    import signal
    import time

    import docker
    home = tmp_path / 'store'
    try:
        proc, run_id = start_sleeper(probe_project, home, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        client = docker.from_env()
        deadline = time.time() + 60
        while time.time() < deadline:
            left = client.containers.list(filters={'label': f'org.repro.run-id={run_id}'})
            status = manifest(home, run_id)['status']
            if not left and status != 'running':
                break
            time.sleep(0.5)
        assert left == [] and status == 'interrupted'
        assert 'reaper' in manifest(home, run_id)['error']
    finally:
        (probe_project / 'sleeper.py').unlink()
