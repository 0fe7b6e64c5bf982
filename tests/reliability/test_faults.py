"""Faults during `repro run`: SIGINT and SIGKILL while it snapshots, builds and
runs, a full disk, an unwritable store, the Docker daemon going away.

After each: the store stays readable, no manifest is truncated, a run shows
as interrupted (or stale), no container keeps running, and the next
`repro run` works.
"""
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid

import pytest

from tests.support import (ROOT, git_project, lock_files, manifest, repro, run_id_of,
                           small_lock_files, start_sleeper)

pytestmark = pytest.mark.docker


class Started:
    """`repro run` in its own process group, its stderr read as it comes."""

    def __init__(self, project, home, launcher='train.py', env=None):
        self.proc = subprocess.Popen(
            [sys.executable, '-m', 'repro', 'run', launcher], cwd=project,
            env={**os.environ, 'REPRO_HOME': str(home), **(env or {})},
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            start_new_session=True)
        self.err = []
        self._reader = threading.Thread(target=lambda: self.err.extend(self.proc.stderr),
                                        daemon=True)
        self._reader.start()

    def wait_for(self, text, timeout=600):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if any(text in line for line in self.err):
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f'never saw {text!r}: {"".join(self.err)[-2000:]}')

    def signal(self, sig):
        """SIGINT like Ctrl-C in a terminal (the whole group); SIGKILL to repro only."""
        if sig == signal.SIGINT:
            os.killpg(self.proc.pid, sig)
        else:
            self.proc.send_signal(sig)

    def finish(self, timeout=300):
        out = self.proc.stdout.read()
        self.proc.wait(timeout=timeout)
        self._reader.join(timeout=10)
        return self.proc.returncode, out, ''.join(self.err)


def containers(label):
    import docker
    return docker.from_env().containers.list(all=True, filters={'label': label})


def wait_until(check, timeout=90):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if check():
            return True
        time.sleep(0.5)
    return check()


def assert_store_sound(project, home):
    """Readable by every reader; no half-written manifest or pack counts."""
    from repro.store.runs import RunStore
    listing = repro('ls', '--json', cwd=project, home=home)
    for row in json.loads(listing.stdout):
        assert row['status'] in ('succeeded', 'failed', 'interrupted', 'stale'), row
    store = RunStore(home)
    for run_id in store.run_ids():
        store.read_manifest(run_id)  # parses: never truncated
    packs = store.packs_dir
    for name in (os.listdir(packs) if os.path.isdir(packs) else []):
        if name.endswith('.idx'):
            size = os.path.getsize(os.path.join(packs, name[:-4] + '.pack'))
            entries = json.load(open(os.path.join(packs, name)))
            assert all(off + n <= size for off, n in entries.values())


def big_project(root, megabytes=120):
    """A project whose uncommitted files take git seconds to snapshot."""
    project = git_project(root, {**lock_files(), 'train.py': 'print("trained")\n'})
    data = project / 'data'
    data.mkdir()
    for i in range(megabytes * 4):
        (data / f'part{i:04d}.bin').write_bytes(os.urandom(256 * 1024))
    return project


@pytest.mark.parametrize('sig', [signal.SIGINT, signal.SIGKILL], ids=['SIGINT', 'SIGKILL'])
def test_signal_during_snapshot(tmp_path, base_image, sig):
    project, home = big_project(tmp_path / 'p'), tmp_path / 'store'
    run = Started(project, home)
    run.wait_for('snapshotting the source tree')
    time.sleep(0.5)
    run.signal(sig)
    code, out, err = run.finish()
    assert 'image' not in err.split('snapshotting the source tree')[-1], err  # hit the snapshot
    if sig == signal.SIGINT:
        assert code == 130 and err.strip().splitlines()[-1] == 'repro: interrupted', err
    else:
        assert code == -signal.SIGKILL
    assert not list(home.glob('runs/*'))  # no run was started
    assert_store_sound(project, home)
    again = repro('run', 'train.py', cwd=project, home=home)
    assert run_id_of(again)[1] == 'succeeded'
    assert_store_sound(project, home)


@pytest.mark.parametrize('sig', [signal.SIGINT, signal.SIGKILL], ids=['SIGINT', 'SIGKILL'])
def test_signal_during_build(tmp_path, base_image, sig):
    from repro.images.image import LABEL_BUILD, SWEEP_AFTER
    from repro.images.wheels import default_cache
    project = git_project(tmp_path / 'p', {**small_lock_files(uuid.uuid4().hex),
                                           'train.py': 'print("trained")\n'})
    home = tmp_path / 'store'
    builds = set(os.listdir(default_cache()))
    run = Started(project, home)
    run.wait_for('installing')  # pip runs in the build container now
    time.sleep(1)
    run.signal(sig)
    code, out, err = run.finish()
    assert code == (130 if sig == signal.SIGINT else -signal.SIGKILL), err
    # The build container is stopped: by repro on SIGINT, by its reaper on SIGKILL.
    assert wait_until(lambda: not containers(LABEL_BUILD))
    assert not list(home.glob('runs/*'))
    assert_store_sound(project, home)
    killed = {p for p in os.listdir(default_cache()) if p.startswith('repro-build-')} - builds
    assert len(killed) == (0 if sig == signal.SIGINT else 1)  # Ctrl-C cleans up itself
    time.sleep(SWEEP_AFTER + 1)
    again = repro('run', 'train.py', cwd=project, home=home)
    assert 'building image' in again.stderr and run_id_of(again)[1] == 'succeeded'
    # The killed build's work directory (a whole venv) was swept away.
    assert not killed & set(os.listdir(default_cache()))


def test_ctrl_c_during_the_run_stops_the_container_and_records_interrupted(
        probe_project, tmp_path):
    home = tmp_path / 'store'
    proc, _ = start_sleeper(probe_project, home, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-2000:]
    run_id, status = run_id_of(out)
    assert status == 'interrupted'
    data = manifest(home, run_id)
    assert data['status'] == 'interrupted' and data['end_time']
    assert containers(f'org.repro.run-id={run_id}') == []
    assert_store_sound(probe_project, home)
    (probe_project / 'sleeper.py').unlink()


def test_sigkill_during_the_run_leaves_no_container_and_no_running_manifest(
        probe_project, tmp_path):
    home = tmp_path / 'store'
    try:
        proc, run_id = start_sleeper(probe_project, home, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        assert wait_until(lambda: not containers(f'org.repro.run-id={run_id}')
                          and manifest(home, run_id)['status'] != 'running')
        assert manifest(home, run_id)['status'] == 'interrupted'
        assert 'reaper' in manifest(home, run_id)['error']
        assert_store_sound(probe_project, home)
    finally:
        (probe_project / 'sleeper.py').unlink()


@pytest.fixture
def tiny_disk(tmp_path):
    """A 4 MiB tmpfs: a store on it fills up during a larger snapshot."""
    if os.geteuid() != 0:
        pytest.skip('mounting a tmpfs needs root (CI runs as root)')
    mount = tmp_path / 'tiny'
    mount.mkdir()
    subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', str(mount)], check=True)
    yield mount
    subprocess.run(['umount', str(mount)], check=True)


def test_disk_full_during_the_snapshot(tmp_path, base_image, tiny_disk):
    project = big_project(tmp_path / 'p', megabytes=8)
    home = tiny_disk / 'store'
    result = repro('run', 'train.py', cwd=project, home=home, check=False)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith('repro: error: cannot write to the run store') and \
        'No space left on device' in lines[-1] and 'Traceback' not in result.stderr
    leftovers = sorted(p.name for p in home.rglob('*') if p.is_file())
    # no pack, no index, no temp file, no run: the store's own files only (.lock is empty)
    assert leftovers == ['.gitignore', '.lock']
    assert_store_sound(project, home)


def test_unwritable_store_is_a_one_line_error(probe_project, tmp_path):
    (tmp_path / 'a-file').write_text('')
    result = repro('run', 'probe.py', cwd=probe_project, home=tmp_path / 'a-file' / 'store',
                   check=False)
    assert result.returncode == 2 and 'Traceback' not in result.stderr
    assert result.stderr.strip().splitlines() == [
        f'repro: error: cannot create the run store at {tmp_path}/a-file/store: '
        'Not a directory (set REPRO_HOME to a writable directory)']


RESTART = 'REPRO_TEST_RESTART_DOCKERD'


@pytest.mark.skipif(not os.environ.get(RESTART),
                    reason=f'stops and restarts dockerd: set {RESTART}=1 (.ci/run does)')
def test_docker_daemon_stopped_mid_run(probe_project, tmp_path, engine):
    home = tmp_path / 'store'
    pid = int(open('/var/run/docker.pid').read())
    try:
        proc, run_id = start_sleeper(probe_project, home, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        os.kill(pid, signal.SIGTERM)
        out, err = proc.communicate(timeout=120)
    finally:
        wait_until(lambda: not os.path.exists(f'/proc/{pid}'), timeout=60)
        subprocess.run([str(ROOT / 'scripts' / 'docker-up')], check=True)
        (probe_project / 'sleeper.py').unlink()
    assert proc.returncode == 125, err
    assert [ln for ln in err.splitlines() if ln.startswith('repro: error:')] == [
        'repro: error: lost the Docker Engine while the container ran (was dockerd '
        'stopped?) (start it again (scripts/docker-up) and re-run)']
    assert run_id_of(out) == (run_id, 'interrupted')
    data = manifest(home, run_id)
    assert data['status'] == 'interrupted' and 'lost the Docker Engine' in data['error']
    running = [c for c in containers(f'org.repro.run-id={run_id}') if c.status == 'running']
    assert running == []
    assert_store_sound(probe_project, home)
