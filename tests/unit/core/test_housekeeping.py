"""``repro du``, ``repro rm`` and ``repro gc`` on real stores, with a fake engine."""
import io
import json
import os
import threading
import time

import pytest

from repro.audit.housekeeping import collect, disk_usage, parse_size, remove_runs
from repro.errors import ConfigError, InUseError
from repro.execute.run import run
from repro.images import closure
from repro.store.manifest_loader import load
from repro.store.runs import RunStore
from tests.fakes import IMAGE_ID, FakeEngine, fake_project, write_outputs


@pytest.fixture
def proj(tmp_path, monkeypatch):
    """(project root, its store): a project whose image the fake engine holds."""
    root = fake_project(tmp_path, monkeypatch)
    return root, RunStore.for_project(str(root))


def a_run(root, text=None, engine=None):
    if text is not None:
        (root / 'train.py').write_text(text)
    return run(str(root / 'train.py'), connect=lambda: engine or FakeEngine(
        write_outputs({'out.txt': '{seed}'})), progress=lambda m: None,
        output=io.BytesIO()).run_id


def needed(store, run_id):
    """Read everything a replay of the run needs, checked against its id."""
    manifest = load(store, run_id)
    for _path, _mode, oid in store.get_tree(manifest['git']['tree']):
        store.read_object(oid)
    store.read_object(manifest['lock']['sha256'])
    store.read_object(manifest['image']['dockerfile_sha256'])
    closure.load(store, manifest['image']['closure'])


def age(path, seconds=7200):
    old = time.time() - seconds
    os.utime(path, (old, old))


def test_gc_is_a_dry_run_until_yes_and_frees_only_what_no_run_needs(proj, tmp_path):
    root, store = proj
    first = a_run(root, 'print(1)\n' * 400)
    kept = a_run(root, 'print(2)\n' * 400)
    remove_runs(store, [first])
    temp_old = os.path.join(store.runs_dir, kept, '.manifest.json.x1.tmp')
    temp_new = os.path.join(store.runs_dir, kept, '.manifest.json.x2.tmp')
    for path in (temp_old, temp_new):
        open(path, 'w').write('{')
    age(temp_old)
    (tmp_path / 'cache' / 'layers').mkdir(parents=True)
    (tmp_path / 'cache' / 'layers' / 'venv-old.tar').write_bytes(b'x' * 5000)
    snapshot = sorted(str(p) for p in (root / '.repro').rglob('*'))
    dry = collect(store, None, str(tmp_path / 'cache'))
    assert sorted(str(p) for p in (root / '.repro').rglob('*')) == snapshot  # nothing deleted
    categories = {category for category, _path, _size in dry.items}
    assert {'trees', 'exported sources', 'temporary files', 'build cache'} <= categories
    assert dry.compacted == 2 and dry.total > 0 and not dry.applied
    assert temp_old in [p for _c, p, _s in dry.items] and temp_new not in [
        p for _c, p, _s in dry.items]
    done = collect(store, None, str(tmp_path / 'cache'), apply=True)
    assert done.applied and done.total == dry.total
    assert not os.path.exists(temp_old) and os.path.exists(temp_new)
    assert not (tmp_path / 'cache' / 'layers' / 'venv-old.tar').exists()
    needed(store, kept)
    assert len(list((root / '.repro' / 'packs').glob('*.idx'))) == 1  # compacted
    assert len(list((root / '.repro' / 'trees').glob('*.json'))) == 1
    problems, _counts = store.check()
    assert problems == []
    again = collect(store, None, str(tmp_path / 'cache'))
    assert again.total == 0 and again.items == []


def test_du_counts_the_store_cache_and_the_images_with_their_runs(proj, tmp_path):
    root, store = proj
    run_id = a_run(root)
    engine = FakeEngine()
    engine.built[IMAGE_ID] = next(iter(os.listdir(tmp_path / 'cache' / 'images')))
    (store.subdir('images', create=True) + '/' + '0' * 64 + '.tar')
    with open(os.path.join(store.root, 'images', 'a' * 64 + '.tar'), 'wb') as f:
        f.write(b'x' * 3000)
    usage = disk_usage(store, engine, str(tmp_path / 'cache'))
    assert usage['store_usage']['runs'][0] == 1
    assert usage['store_usage']['image archives'] == (1, 3000)
    assert usage['store_usage']['objects and packs'][1] > 0
    assert [(i['id'], i['runs']) for i in usage['images']] == [(IMAGE_ID, [run_id])]
    json.dumps(usage)  # `repro du --json`


def test_rm_keeps_runs_others_refer_to_unless_forced(proj, monkeypatch):
    from types import SimpleNamespace

    from repro.store.sweeps import SweepStore
    root, store = proj
    # Runs made in one second differ only in their random suffix; fix the suffixes so that
    # the prefix given to rm below is unique on every draw (random ones collided 1 in 60).
    suffixes = iter(['a1f0', 'b2f0', 'c3f0', 'd4f0', 'e5f0'])
    monkeypatch.setattr('repro.store.runs.secrets',
                        SimpleNamespace(token_hex=lambda n: next(suffixes)))
    original, replay, member = a_run(root), a_run(root), a_run(root)
    stopped, resumed = a_run(root), a_run(root)
    sweep_id = SweepStore(store).create('train.py', {'members': []})
    for run_id, extra in ((replay, {'replay_of': original}),
                          (member, {'sweep': {'id': sweep_id, 'index': 0, 'params': {}}}),
                          (resumed, {'resumed_from': stopped})):
        manifest = load(store, run_id)
        manifest.update(extra)
        store.write_manifest(run_id, manifest)
    with pytest.raises(InUseError, match=f'run {original} is replayed by run {replay}'):
        remove_runs(store, [original[:-2]])
    with pytest.raises(InUseError, match=f'is a member of sweep {sweep_id}'):
        remove_runs(store, [member])
    with pytest.raises(InUseError, match=f'run {stopped} is continued by run {resumed}'):
        remove_runs(store, [stopped])
    assert remove_runs(store, [resumed, stopped]) == [resumed, stopped]
    assert sorted(store.run_ids()) == sorted([original, replay, member])  # nothing else went
    assert remove_runs(store, [original, replay]) == [original, replay]  # both at once
    assert remove_runs(store, [member], force=True) == [member]
    assert store.run_ids() == []


def test_gc_keeps_what_a_sweep_or_a_starting_run_needs_and_what_broken_runs_might(proj,
                                                                                tmp_path):
    root, store = proj
    run_id = a_run(root, 'print(7)\n')
    manifest = load(store, run_id)
    pin_tree = manifest['git']['tree']
    store.pin({'pid': os.getpid()}, pin_tree, [manifest['lock']['sha256']], 'k')
    remove_runs(store, [run_id])
    found = collect(store, None, str(tmp_path / 'cache'))
    assert not [p for c, p, _s in found.items if pin_tree in p]  # pinned: kept
    store.unpin()
    found = collect(store, None, str(tmp_path / 'cache'))
    assert [c for c, p, _s in found.items if pin_tree in p] == ['trees', 'exported sources']
    broken = a_run(root, 'print(8)\n')
    with open(store.manifest_path(broken), 'w') as f:
        f.write('{not json')
    found = collect(store, None, str(tmp_path / 'cache'), apply=True)
    assert found.skipped and 'manifest.json is not valid JSON' in found.skipped[0]
    assert os.path.exists(os.path.join(store.root, 'trees', pin_tree + '.json'))


@pytest.mark.parametrize('moment', ['pins', 'runs'])
def test_gc_keeps_a_starting_run_that_writes_its_manifest_between_gc_reads(proj, tmp_path,
                                                                          monkeypatch, moment):
    """A starting run writes its first manifest and drops its pin without the store
    lock. Whichever of gc's two reads (pins, run listing) it lands before, gc must
    still see the pin or the manifest and keep the run's source."""
    from repro.engines.liveness import runner_record
    from repro.store import references
    root, store = proj
    run_id = a_run(root, 'print(3)\n' * 300)
    manifest = load(store, run_id)
    tree = manifest['git']['tree']
    os.unlink(store.manifest_path(run_id))  # back to starting: snapshot stored, pinned
    store.pin(runner_record(), tree, [manifest['lock']['sha256']], manifest['image']['key'])

    def the_run_goes_on():
        if store._pins:
            store.write_manifest(run_id, manifest)
    if moment == 'pins':
        real = references.pins
        monkeypatch.setattr(references, 'pins', lambda s: the_run_goes_on() or real(s))
    else:
        real = store.run_ids
        monkeypatch.setattr(store, 'run_ids', lambda: the_run_goes_on() or real())
    collect(store, None, str(tmp_path / 'cache'), apply=True)
    assert not store._pins  # the run really went on inside gc
    for _path, _mode, oid in store.get_tree(tree):
        store.read_object(oid)


def test_gc_never_loses_what_concurrent_runs_need(proj, tmp_path, monkeypatch):
    """Runs start while gc deletes (and rm removes older runs): every kept
    run still has its manifest, its source blobs, its lock, Dockerfile and
    closure. The runs alternate between two trees, so a new run often reuses
    blobs whose only run was just removed; each spends a while between its
    snapshot and its first manifest, as a build or a slow host probe does."""
    from repro.execute import hostinfo
    record = hostinfo.host_record
    monkeypatch.setattr(hostinfo, 'host_record', lambda v: time.sleep(0.02) or record(v))
    root, store = proj
    engine = FakeEngine(write_outputs({'out.txt': '{seed}'}))
    errors, freed, done = [], [], threading.Event()

    def runs():
        try:
            for i in range(24):
                a_run(root, f'print({i % 2})\n' * 300, engine)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            done.set()

    thread = threading.Thread(target=runs)
    thread.start()
    while not done.is_set():
        finished = [r for r in store.run_ids() if os.path.exists(store.manifest_path(r))
                    and load(store, r)['status'] != 'running']
        if len(finished) > 1:
            remove_runs(store, finished[:-1])
        freed.append(collect(store, None, str(tmp_path / 'cache'), apply=True).total)
    thread.join()
    assert errors == []
    assert sum(freed) > 0  # gc really deleted things while the runs went on
    assert store.run_ids()
    for run_id in store.run_ids():
        needed(store, run_id)
    assert store.check()[0] == []


def test_parse_size():
    assert [parse_size(s) for s in ('500M', '2G', '1.5GiB', '1000', '10 kB')] == [
        500 * 10**6, 2 * 10**9, int(1.5 * 2**30), 1000, 10**4]
    with pytest.raises(ConfigError, match="invalid size '2X'"):
        parse_size('2X')


def test_a_reader_whose_pack_index_is_older_than_a_compaction_still_reads(proj, tmp_path):
    root, store = proj
    a_run(root, 'print(1)\n' * 50)
    kept = a_run(root, 'print(2)\n' * 50)
    reader = RunStore.for_project(str(root))
    tree = load(reader, kept)['git']['tree']
    oids = [oid for _p, _m, oid in reader.get_tree(tree)]
    assert reader.has_object(oids[0])  # its pack index is read now
    found = collect(store, None, str(tmp_path / 'cache'), apply=True)
    assert found.compacted == 2
    assert all(reader.read_object(oid) for oid in oids)  # not "damaged"
