"""``repro sweep`` against a fake engine: one preparation, ordinary member
runs, the sweep record, resume, Ctrl-C and bad input."""
import json
import os
import signal
import threading

import pytest

from repro import contract
from repro.errors import ConfigError, ReproError, StoreError, SweepNotFoundError
from repro.execute import sweep, sweepruns
from repro.store.manifest_loader import load
from repro.store.runs import RunStore
from repro.store.sweeps import SweepStore
from tests.fakes import IMAGE_ID, FakeEngine, fake_project


@pytest.fixture
def root(tmp_path, monkeypatch):
    return fake_project(tmp_path, monkeypatch)


def start(root, fake, seeds='0-1', grid=('lr=a,b',), args=('--seed', '{seed}'), **kw):
    request = sweep.SweepRequest(str(root / 'train.py'), seeds, tuple(grid), tuple(args), **kw)
    return sweep.start(request, connect=lambda: fake, progress=lambda m: None)


def test_members_are_ordinary_runs_of_one_snapshot_and_image(root, monkeypatch):
    monkeypatch.setattr(sweep.os, 'sched_getaffinity', lambda pid: {0, 1, 2, 3})
    engine = FakeEngine()
    result = start(root, engine, max_parallel=2)
    store = RunStore.for_project(str(root))
    record = SweepStore(store).read(result.sweep_id)
    assert (result.succeeded, result.total) == (4, 4)
    _, rows = sweepruns.status_rows(store, result.sweep_id)
    manifests = [load(store, row['run_id']) for row in rows]
    assert {m['git']['tree'] for m in manifests} == {record['prepared']['tree']}
    assert {m['image']['id'] for m in manifests} == {IMAGE_ID} == {record['image']}
    assert [m['sweep'] for m in manifests] == [
        {'id': result.sweep_id, 'index': i, 'params': {'lr': lr}, 'attempt': 1}
        for i, lr in enumerate('aabb')]
    assert [(m['seed'], m['args']) for m in manifests] == [
        (0, ['--seed', '0', '--lr', 'a']), (1, ['--seed', '1', '--lr', 'a']),
        (0, ['--seed', '0', '--lr', 'b']), (1, ['--seed', '1', '--lr', 'b'])]
    first = manifests[0]
    assert first['command'] == ['repro', 'run', 'train.py', '--seed', '0', '--threads', '1',
                                '--', '--seed', '0', '--lr', 'a']
    assert first['threads'] == 1 and all(first['env'][v] == '1' for v in contract.THREAD_VARS)
    assert all(call.labels['org.repro.sweep-id'] == result.sweep_id for call in engine.calls)
    # two at a time, each on its own CPU (which one a member gets depends on timing)
    assert {call.cpuset for call in engine.calls} <= {'0', '1'}
    assert [(r['status'], r['attempts'], r['node']) for r in rows] == \
        [('succeeded', 1, 'local')] * 4


def test_resume_runs_only_the_members_without_a_succeeded_run(root):
    failing = {1}

    def behave(call):
        return 1 if int(call.env[contract.ENV_SEED]) in failing and '--lr' in call.command \
            and call.command[call.command.index('--lr') + 1] == 'a' else 0
    result = start(root, FakeEngine(behave))
    assert (result.succeeded, result.total) == (3, 4)
    store = RunStore.for_project(str(root))
    failing.clear()
    engine = FakeEngine(behave)
    again = sweep.resume(store, result.sweep_id[:20], connect=lambda: engine,
                         progress=lambda m: None)
    assert (again.sweep_id, again.succeeded, again.total) == (result.sweep_id, 4, 4)
    assert len(engine.calls) == 1 and engine.calls[0].env[contract.ENV_SEED] == '1'
    record = SweepStore(store).read(result.sweep_id)
    tries = sweepruns.attempts(store, record)[1]
    assert [m['status'] for m in tries] == ['failed', 'succeeded']
    _, rows = sweepruns.status_rows(store, result.sweep_id)
    assert [r['status'] for r in rows] == ['succeeded'] * 4
    assert rows[1]['run_id'] == tries[1]['run_id'] and rows[1]['attempts'] == 2


class StoppableEngine(FakeEngine):
    """Members block until stopped; the first one presses Ctrl-C."""

    def __init__(self):
        super().__init__(self._behave)
        self.stopped = threading.Event()
        self.started = threading.Barrier(2)

    def _behave(self, call):
        if self.started.wait() == 0:
            os.kill(os.getpid(), signal.SIGINT)  # as a Ctrl-C would
        assert self.stopped.wait(30), 'the sweep never stopped its members'
        return 137

    def stop_container(self, container_id):
        self.stopped.set()
        return True


def interrupted_sweep(root, seeds):
    """(engine, store, sweep id) of a sweep stopped by Ctrl-C, two members in."""
    engine = StoppableEngine()
    with pytest.raises(KeyboardInterrupt):
        start(root, engine, seeds=seeds, grid=(), max_parallel=2)
    store = RunStore.for_project(str(root))
    (sweep_id,) = SweepStore(store).ids()
    return engine, store, sweep_id


def test_ctrl_c_stops_every_member_and_records_them_interrupted(root):
    engine, store, sweep_id = interrupted_sweep(root, '0-5')
    _, rows = sweepruns.status_rows(store, sweep_id)
    # the two that ran are interrupted; the rest never started
    assert [r['status'] for r in rows] == ['interrupted'] * 2 + ['pending'] * 4
    assert len(engine.calls) == 2


def test_bad_input_leaves_no_sweep_record(root):
    store = RunStore.for_project(str(root))
    with pytest.raises(ConfigError, match='10000'):
        start(root, FakeEngine(), seeds='0-10000', grid=('lr=a,b',))
    with pytest.raises(ConfigError, match='unknown engine'):
        start(root, FakeEngine(), engine='cloud')
    with pytest.raises(ConfigError, match='--seeds'):
        start(root, FakeEngine(), seeds='1-')
    assert not os.path.exists(os.path.join(store.root, 'sweeps'))
    with pytest.raises(SweepNotFoundError, match='no sweep matches'):
        sweepruns.status_rows(store, '2026')
    with pytest.raises(SweepNotFoundError, match='not a valid sweep id'):
        sweepruns.status_rows(store, '../x')


def test_a_forged_record_is_refused(root):
    result = start(root, FakeEngine(), seeds='0', grid=())
    store = RunStore.for_project(str(root))
    path = os.path.join(store.root, 'sweeps', result.sweep_id, 'sweep.json')
    with open(path) as f:
        record = json.load(f)
    record['members'][0]['args'] = [{'evil': 1}]
    with open(path, 'w') as f:
        json.dump(record, f)
    with pytest.raises(StoreError, match='member 0 is malformed'):
        sweep.resume(store, result.sweep_id, connect=FakeEngine, progress=lambda m: None)


def forge(store, sweep_id, **changes):
    path = os.path.join(store.root, 'sweeps', sweep_id, 'sweep.json')
    with open(path) as f:
        record = json.load(f)
    record.update(changes)
    with open(path, 'w') as f:
        json.dump(record, f)


@pytest.mark.parametrize('changes, message', [
    ({'jobs': ['--user=alice']}, 'job ids are malformed'),
    ({'image': '../../../home/u/evil'}, 'not an image id'),
    ({'engine': 'cloud'}, 'engine or thread count'),
    ({'threads': True}, 'threads is missing'),
    ({'prepared': {}}, 'recorded inputs are malformed'),
    ({'slurm': {'partition': 'x\necho injected'}}, 'not one plain word'),
    ({'slurm': {'extra': 'touch /tmp/x'}}, 'must be a list'),
    ({'slurm': {'python': '/bin/sh -c id;'}}, 'not one plain word')])
def test_a_forged_record_never_reaches_slurm_or_the_engine(root, changes, message):
    result = start(root, FakeEngine(), seeds='0', grid=())
    store = RunStore.for_project(str(root))
    forge(store, result.sweep_id, **changes)
    for action in (lambda: sweep.resume(store, result.sweep_id, connect=FakeEngine,
                                        progress=lambda m: None),
                   lambda: sweep.cancel(store, result.sweep_id, connect=FakeEngine),
                   lambda: sweepruns.status_rows(store, result.sweep_id)):
        with pytest.raises(ReproError, match=message) as err:
            action()
        assert '\n' not in str(err.value)


def test_resume_takes_networking_only_from_the_user(root):
    result = start(root, FakeEngine(lambda call: 1), seeds='0', grid=())
    store = RunStore.for_project(str(root))
    forge(store, result.sweep_id, network=True)
    with pytest.raises(ConfigError, match='recorded with networking'):
        sweep.resume(store, result.sweep_id, connect=FakeEngine, progress=lambda m: None)
    engine = FakeEngine()
    sweep.resume(store, result.sweep_id, connect=lambda: engine, progress=lambda m: None,
                 network=True)
    assert engine.calls[0].network is True


def test_cancel_never_signals_a_process_that_is_not_the_sweeps_runner(root, tmp_path):
    import subprocess
    from repro.engines.liveness import runner_record
    result = start(root, FakeEngine(), seeds='0', grid=())
    store = RunStore.for_project(str(root))
    victim = subprocess.Popen(['sleep', '30'])
    try:
        forge(store, result.sweep_id, runner=runner_record(victim.pid))
        _, what = sweep.cancel(store, result.sweep_id, connect=FakeEngine)
        assert 'no runner was running' in what and victim.poll() is None
    finally:
        victim.kill()
        victim.wait()


def test_a_member_that_crashes_does_not_orphan_the_others(root):
    def behave(call):
        if call.env[contract.ENV_SEED] == '0':
            raise RuntimeError('disk full')
        return 0
    result = start(root, FakeEngine(behave), seeds='0-2', grid=(), max_parallel=2)
    assert (result.succeeded, result.total) == (2, 3)


@pytest.mark.parametrize('seeds, grid, message', [
    ('²', (), 'is not a seed'),
    ('0-999', ('a=' + ','.join(map(str, range(101))),), 'at most 100000'),
    ('0', ('lr=\udcff',), 'not UTF-8')])
def test_more_bad_input(root, seeds, grid, message):
    with pytest.raises(ConfigError, match=message):
        start(root, FakeEngine(), seeds=seeds, grid=grid, yes=True)


def test_a_member_that_did_not_succeed_continues_its_latest_attempt(root):
    """Issue 13: the next attempt of a member gets its latest attempt's
    outputs read-only at contract.RESUME (the library continues from its last
    snapshot there) and names that run in ``resumed_from``; the host only
    mounts them. A member that never ran starts afresh."""
    stops = {1: 2}  # member 1 is stopped twice (143: SIGTERM), then succeeds

    def behave(call):
        with open(os.path.join(call.mounted(contract.OUTPUTS), 'progress.csv'), 'w') as f:
            f.write('Epoch\n0\n')
        seed = int(call.env[contract.ENV_SEED])
        if stops.get(seed):
            stops[seed] -= 1
            return contract.EXIT_STOPPED
        return 0
    first = FakeEngine(behave)
    result = start(root, first, grid=())
    assert (result.succeeded, result.total) == (1, 2)
    assert not any(contract.ENV_RESUME_FROM in c.env or len(c.mounts) != 2 for c in first.calls)
    store = RunStore.for_project(str(root))
    record = SweepStore(store).read(result.sweep_id)
    for attempt in (2, 3):
        engine = FakeEngine(behave)
        sweep.resume(store, result.sweep_id, connect=lambda: engine, progress=lambda m: None)
        (call,) = engine.calls
        tries = sweepruns.attempts(store, record)[1]
        earlier, now = tries[-2], tries[-1]
        assert (os.path.join(store.run_dir(earlier['run_id']), 'outputs'), contract.RESUME,
                'ro') in call.mounts
        assert call.env[contract.ENV_RESUME_FROM] == contract.RESUME
        assert now['resumed_from'] == earlier['run_id'] and now['sweep']['attempt'] == attempt
        assert now['env'][contract.ENV_RESUME_FROM] == contract.RESUME
    assert [m['status'] for m in tries] == ['failed', 'failed', 'succeeded']
    assert 'resumed_from' not in tries[0]
    assert 'resumed_from' not in sweepruns.attempts(store, record)[0][0]


def test_a_member_never_started_gets_no_earlier_outputs(root):
    _, store, sweep_id = interrupted_sweep(root, '0-2')
    again = FakeEngine()
    sweep.resume(store, sweep_id, connect=lambda: again, progress=lambda m: None)
    by_seed = {c.env[contract.ENV_SEED]: c for c in again.calls}
    assert contract.ENV_RESUME_FROM not in by_seed['2'].env  # never ran: afresh
    assert all(contract.ENV_RESUME_FROM in by_seed[s].env for s in '01')  # interrupted


def test_resume_source_is_the_latest_attempt_unless_it_succeeded():
    assert sweep.resume_source([]) is None
    assert sweep.resume_source([{'run_id': 'a', 'status': 'failed'},
                                {'run_id': 'b', 'status': 'interrupted'}]) == 'b'
    assert sweep.resume_source([{'run_id': 'a', 'status': 'running'}]) == 'a'  # superseded
    assert sweep.resume_source([{'run_id': 'a', 'status': 'succeeded'}]) is None


def test_a_replay_of_a_resumed_attempt_continues_the_same_earlier_outputs(root):
    """The replay of a resumed attempt mounts the same earlier outputs (so it
    reproduces it), after checking them as ``repro verify`` does."""
    import io

    from repro.audit.replay import replay
    from repro.errors import VerificationError
    tries = []

    def behave(call):
        earlier = [h for h, c, _ in call.mounts if c == contract.RESUME]
        with open(os.path.join(call.mounted(contract.OUTPUTS), 'progress.csv'), 'w') as f:
            f.write('Epoch\n' + ('0\n1\n' if earlier else '0\n'))
        tries.append(call)
        return 0 if earlier else contract.EXIT_STOPPED
    result = start(root, FakeEngine(behave), seeds='0', grid=())
    store = RunStore.for_project(str(root))
    sweep.resume(store, result.sweep_id, connect=lambda: FakeEngine(behave),
                 progress=lambda m: None)
    stopped, resumed = sweepruns.attempts(store, SweepStore(store).read(result.sweep_id))[0]
    verdict = replay(store, resumed['run_id'], connect=lambda: FakeEngine(behave),
                     progress=lambda m: None, output=io.BytesIO())
    assert verdict.name == 'REPRODUCED'
    assert load(store, verdict.replay)['resumed_from'] == stopped['run_id']
    assert tries[-1].mounts[-1] == tries[-2].mounts[-1] == (
        os.path.join(store.run_dir(stopped['run_id']), 'outputs'), contract.RESUME, 'ro')
    with open(os.path.join(store.run_dir(stopped['run_id']), 'outputs', 'progress.csv'),
              'a') as f:
        f.write('9\n')  # the earlier outputs, edited since
    with pytest.raises(VerificationError, match=stopped['run_id']):
        replay(store, resumed['run_id'], connect=lambda: FakeEngine(behave),
               progress=lambda m: None, output=io.BytesIO())


def test_a_requeued_slurm_task_continues_the_attempt_before_it(root, monkeypatch):
    """The array task of a member whose last attempt was lost (a node died,
    Slurm requeued it) mounts that attempt's outputs, as a local resume does."""
    from repro.execute import slurm
    monkeypatch.setattr(signal, 'signal', lambda *args: None)  # not the test's handlers
    result = start(root, FakeEngine(lambda call: contract.EXIT_STOPPED), seeds='0', grid=())
    store = RunStore.for_project(str(root))
    engine = FakeEngine()
    monkeypatch.setenv('SLURM_JOB_ID', '42')
    code = slurm.task(store.root, result.sweep_id, 0, connect=lambda: engine,
                      progress=lambda m: None)
    assert code == 0
    lost, now = sweepruns.attempts(store, SweepStore(store).read(result.sweep_id))[0]
    assert now['resumed_from'] == lost['run_id'] and now['sweep']['job'] == '42'
    assert engine.calls[0].env[contract.ENV_RESUME_FROM] == contract.RESUME
