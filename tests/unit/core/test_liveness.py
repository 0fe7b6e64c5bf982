"""Stale runs: a `running` manifest whose repro process is provably gone."""
import os
import subprocess
import sys

import pytest

from repro.liveness import here, is_stale, process_start, runner_record, status_of

RUNNER = {'pid': 10, 'start_ticks': 500, 'boot_id': 'boot-a', 'host_id': 'host-a'}


@pytest.mark.parametrize('runner, host, boot, start, stale', [
    (RUNNER, 'host-a', 'boot-a', 500, False),   # same process still there
    (RUNNER, 'host-a', 'boot-a', None, True),   # process gone
    (RUNNER, 'host-a', 'boot-a', 777, True),    # pid reused by another process
    (RUNNER, 'host-a', 'boot-b', 500, True),    # the host rebooted
    (RUNNER, 'host-b', 'boot-b', None, False),  # another host: cannot tell
    (None, 'host-a', 'boot-a', None, False),    # no runner recorded
])
def test_is_stale(runner, host, boot, start, stale):
    assert is_stale(runner, host, boot, start) is stale


def test_status_of_a_live_and_a_dead_runner():
    me = runner_record()
    assert me['pid'] == os.getpid() and me['start_ticks'] == process_start(os.getpid())
    assert status_of({'status': 'running', 'runner': me}) == 'running'
    child = subprocess.Popen([sys.executable, '-c', 'pass'])
    dead = runner_record(child.pid)
    child.wait()
    assert status_of({'status': 'running', 'runner': dead}) == 'stale'
    elsewhere = {**dead, 'host_id': 'not-' + here()[0]}
    assert status_of({'status': 'running', 'runner': elsewhere}) == 'running'
    assert status_of({'status': 'succeeded', 'runner': dead}) == 'succeeded'
