"""Stale runs: a `running` manifest whose repro process is provably gone."""
import os
import subprocess
import sys

import pytest

from repro.engines.liveness import here, is_stale, process_start, runner_record, status_of

RUNNER = {'pid': 10, 'start_ticks': 500, 'boot_id': 'boot-a', 'host_id': 'host-a',
          'pid_ns': 'pid:[1]'}
HERE = {'host_id': 'host-a', 'boot_id': 'boot-a', 'pid_ns': 'pid:[1]'}


@pytest.mark.parametrize('runner, this, start, stale', [
    (RUNNER, HERE, 500, False),                                 # same process still there
    (RUNNER, HERE, None, True),                                 # process gone
    (RUNNER, HERE, 777, True),                                  # pid reused by another process
    (RUNNER, {**HERE, 'boot_id': 'boot-b'}, 500, True),         # the machine rebooted
    (RUNNER, {**HERE, 'host_id': 'host-b'}, None, False),       # another machine: cannot tell
    (RUNNER, {**HERE, 'pid_ns': 'pid:[2]'}, None, False),       # another pid namespace
    (RUNNER, {**HERE, 'boot_id': None}, None, False),           # no /proc here
    ({**RUNNER, 'start_ticks': None}, HERE, None, False),       # no start time recorded
    (None, HERE, None, False),                                  # no runner recorded
])
def test_is_stale(runner, this, start, stale):
    assert is_stale(runner, this, start) is stale


def test_status_of_a_live_and_a_dead_runner():
    me = runner_record()
    assert me['pid'] == os.getpid() and me['start_ticks'] == process_start(os.getpid())
    assert status_of({'status': 'running', 'runner': me}) == 'running'
    child = subprocess.Popen([sys.executable, '-c', 'pass'])
    dead = runner_record(child.pid)
    child.wait()
    assert status_of({'status': 'running', 'runner': dead}) == 'stale'
    elsewhere = {**dead, 'host_id': 'not-' + here()['host_id']}
    assert status_of({'status': 'running', 'runner': elsewhere}) == 'running'
    assert status_of({'status': 'succeeded', 'runner': dead}) == 'succeeded'
