"""The reaper: released, it leaves without asking the engine anything; when
its repro process dies unreleased, it stops the container and records the
run as interrupted."""
import os
import subprocess
import sys
import time

import pytest

from repro.engines import reaper
from repro.store.runs import RunStore
from tests.fakes import FakeDaemon


class Engine:
    def __init__(self, present=True):
        self.stopped, self.present = [], present

    def stop_container(self, container_id):
        self.stopped.append(container_id)
        return self.present


def dead_pid():
    child = subprocess.Popen([sys.executable, '-c', 'pass'])
    child.wait()
    return child.pid


def test_a_released_reaper_never_connects():
    read_fd, write_fd = os.pipe()
    os.write(write_fd, reaper.RELEASED)
    os.close(write_fd)

    def connect():
        raise AssertionError('a released reaper asked the engine')
    assert reaper.reap(dead_pid(), 'c0ffee', '', '', connect, released_fd=read_fd) is False


def test_an_unreleased_reaper_stops_the_container_and_marks_the_run(tmp_path):
    store = RunStore(str(tmp_path / 'store')).ensure()
    run_id = store.create_run('train.py', 0)
    store.write_manifest(run_id, {'format': 1, 'run_id': run_id, 'status': 'running'})
    read_fd, write_fd = os.pipe()
    os.close(write_fd)  # the repro process died without a release
    engine = Engine()
    assert reaper.reap(dead_pid(), 'c0ffee', store.root, run_id, lambda: engine,
                       released_fd=read_fd) is True
    assert engine.stopped == ['c0ffee']
    manifest = store.read_manifest(run_id)
    assert manifest['status'] == 'interrupted' and 'reaper' in manifest['error']


def _reapers(container_id):
    out = subprocess.run(['pgrep', '-f', f'repro.engines.reaper .* {container_id} '],
                         capture_output=True, text=True).stdout
    return out.split()


def test_spawn_then_release_ends_the_reaper_without_an_engine_call(tmp_path, monkeypatch):
    if not os.path.exists('/usr/bin/pgrep'):
        pytest.skip('needs pgrep')
    fake = FakeDaemon(tmp_path / 'docker.sock')
    monkeypatch.setenv('DOCKER_HOST', f'unix://{fake.path}')
    try:
        container_id = 'feed' * 16
        release = reaper.spawn(os.getpid(), container_id)
        deadline = time.time() + 30
        while not _reapers(container_id) and time.time() < deadline:
            time.sleep(0.05)
        assert _reapers(container_id), 'the reaper did not start'
        release()
        while _reapers(container_id) and time.time() < deadline:
            time.sleep(0.05)
        assert not _reapers(container_id), 'the released reaper is still there'
        assert fake.calls == []
    finally:
        fake.close()
