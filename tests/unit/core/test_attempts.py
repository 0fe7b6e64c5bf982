"""The attempt index (``sweeps/<ID>/attempts/<index>/<n>/<RUN_ID>``): numbers
and supersession taken by rename only, so racing writers never share one;
a task's lookup reads its own member's manifests only; supersede is safe
against two tasks doing it at once."""
import os
import signal
import threading

import pytest

from repro.errors import StoreError
from repro.execute import slurm, sweep, sweepruns
from repro.store import manifest_loader
from repro.store.attempts import AttemptIndex
from repro.store.runs import RunStore
from repro.store.sweeps import SweepStore
from tests.fakes import FakeEngine


@pytest.fixture
def root(fake_sweep_root):
    return fake_sweep_root


def start(root, engine, seeds='0-3', **kw):
    request = sweep.SweepRequest(str(root / 'train.py'), seeds, (), ('--seed', '{seed}'), **kw)
    result = sweep.start(request, connect=lambda: engine, progress=lambda m: None)
    store = RunStore.for_project(str(root))
    return store, SweepStore(store).read(result.sweep_id)


def racing(n, fn):
    """``fn(i)`` in ``n`` threads released at once; their results."""
    barrier, results = threading.Barrier(n), [None] * n

    def one(i):
        barrier.wait()
        results[i] = fn(i)
    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_racing_attempts_of_one_member_never_share_a_number(tmp_path):
    (tmp_path / 's').mkdir()
    index = AttemptIndex(str(tmp_path / 's'))
    numbers = racing(8, lambda i: [index.claim(0, f'run-{i}-{k}') for k in range(5)])
    assert sorted(n for batch in numbers for n in batch) == list(range(1, 41))
    assert [n for n, _ in index.runs(0)] == list(range(1, 41))
    assert index.runs(1) == []


def test_a_claim_starts_at_the_expected_number_and_skips_taken_ones(tmp_path):
    (tmp_path / 's').mkdir()
    index = AttemptIndex(str(tmp_path / 's'))
    assert index.claim(3, 'a', first=2) == 2
    assert index.claim(3, 'b', first=1) == 3
    (tmp_path / 's' / 'attempts' / '3' / '4').write_text('')  # a file: taken
    assert index.claim(3, 'c') == 5
    assert index.runs(3) == [(2, 'a'), (3, 'b'), (5, 'c')]


def test_exactly_one_of_racing_tasks_may_supersede_an_attempt(tmp_path):
    (tmp_path / 's').mkdir()
    index = AttemptIndex(str(tmp_path / 's'))
    index.claim(0, 'stale')
    assert sorted(racing(8, lambda i: index.claim_superseding(0, 1))) == [False] * 7 + [True]
    assert index.runs(0) == [(1, 'stale')]  # the claim is no run


def test_a_link_in_the_index_is_refused(tmp_path):
    (tmp_path / 's' / 'attempts').mkdir(parents=True)
    (tmp_path / 'elsewhere').mkdir()
    os.symlink(tmp_path / 'elsewhere', tmp_path / 's' / 'attempts' / '0')
    with pytest.raises(StoreError, match='tampered'):
        AttemptIndex(str(tmp_path / 's')).runs(0)


def counting_reads(monkeypatch):
    read, seen = manifest_loader.read, []

    def counted(store, run_id):
        seen.append(run_id)
        return read(store, run_id)
    monkeypatch.setattr(manifest_loader, 'read', counted)
    return seen


def test_a_members_lookup_reads_only_that_members_manifests(root, monkeypatch):
    store, record = start(root, FakeEngine())
    seen = counting_reads(monkeypatch)
    (only,) = sweepruns.attempts(store, record, [2])[2]
    assert seen == [only['run_id']] and only['sweep']['index'] == 2


def test_the_index_only_says_where_to_look(root):
    """An entry naming another member's run is no attempt of this one, and a
    sweep recorded before the index existed is found by reading manifests."""
    store, record = start(root, FakeEngine())
    found = sweepruns.attempts(store, record)
    other = found[1][0]['run_id']
    SweepStore(store).attempt_index(record['sweep_id']).claim(0, other)
    assert [m['run_id'] for m in sweepruns.attempts(store, record, [0])[0]] == \
        [found[0][0]['run_id']]
    del record['attempt_index']
    scanned = sweepruns.attempts(store, record)
    assert {i: [m['run_id'] for m in runs] for i, runs in scanned.items()} \
        == {i: [m['run_id'] for m in runs] for i, runs in found.items()}


def stale_attempt(root):
    """(store, record, listing) of a one-member sweep whose attempt was
    lost while ``running``, as a task of the next attempt lists it."""
    store, record = start(root, FakeEngine(), seeds='0')
    (first,) = sweepruns.attempts(store, record)[0]
    first.update(status='running', exit_code=None, end_time=None)
    store.write_manifest(first['run_id'], first)
    return store, record, sweepruns.attempts(store, record, [0])[0]


def test_two_tasks_superseding_at_once_rewrite_the_attempt_once(root, monkeypatch):
    store, record, listing = stale_attempt(root)
    writes, write = [], store.write_manifest
    monkeypatch.setattr(store, 'write_manifest', lambda *a: (writes.append(a[0]), write(*a)))
    sweepruns.supersede(store, record, listing, '7 on n1')
    sweepruns.supersede(store, record, listing, '8 on n2')  # listed it running too
    (now,) = sweepruns.attempts(store, record)[0]
    assert writes == [now['run_id']] and now['status'] == 'interrupted'
    assert 'job 7 on n1' in now['error']


def test_an_attempt_whose_manifest_lost_its_number_is_still_superseded_once(root):
    """The claim goes by the index's number, not by what a manifest (untrusted)
    says: one without ``attempt`` neither breaks the task nor escapes."""
    store, record, listing = stale_attempt(root)
    del listing[0]['sweep']['attempt']
    store.write_manifest(listing[0]['run_id'], listing[0])
    listing = sweepruns.attempts(store, record, [0])[0]
    sweepruns.supersede(store, record, listing, '7 on n1')
    sweepruns.supersede(store, record, listing, '8 on n2')
    (now,) = sweepruns.attempts(store, record)[0]
    assert now['status'] == 'interrupted' and 'job 7 on n1' in now['error']


def test_an_attempt_that_ended_since_it_was_listed_is_not_superseded(root):
    store, record, listing = stale_attempt(root)
    (ended,) = sweepruns.attempts(store, record)[0]
    ended.update(status='succeeded', exit_code=0)
    store.write_manifest(ended['run_id'], ended)  # its own process finished meanwhile
    sweepruns.supersede(store, record, listing, '7 on n1')
    assert sweepruns.attempts(store, record)[0][0]['status'] == 'succeeded'


def test_a_task_supersedes_and_numbers_its_attempt_from_the_index(root, monkeypatch):
    monkeypatch.setattr(signal, 'signal', lambda *args: None)  # not the test's handlers
    store, record, _ = stale_attempt(root)
    assert slurm.task(store.root, record['sweep_id'], 0, connect=FakeEngine,
                      progress=lambda m: None) == 0
    stale, now = sweepruns.attempts(store, record)[0]
    assert (stale['status'], now['status']) == ('interrupted', 'succeeded')
    assert (stale['sweep']['attempt'], now['sweep']['attempt']) == (1, 2)
    assert now['resumed_from'] == stale['run_id']


def test_more_threads_than_cpus_per_task_is_a_one_line_warning(root):
    assert slurm.thread_warning(2, {'cpus_per_task': 2}) is None
    assert slurm.thread_warning(1, {'cpus_per_task': 4}) is None
    said = []
    request = sweep.SweepRequest(str(root / 'train.py'), '0-1', (), (), engine='slurm',
                                 threads=4, slurm={'cpus_per_task': 2}, dry_run=True)
    script = sweep.start(request, connect=FakeEngine, progress=said.append)
    assert '#SBATCH --cpus-per-task=2' in script.splitlines()
    (warning,) = [m for m in said if m.startswith('warning:')]
    assert '4 torch/BLAS threads (--threads) on the 2 CPU(s)' in warning
    assert '\n' not in warning
