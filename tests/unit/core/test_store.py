import datetime
import os
import threading

import pytest

from repro.errors import AmbiguousRunError, RunNotFoundError, StoreError
from repro.record.gitsource import blob_id
from repro.store.runs import RunStore, check_run_ref, make_run_id

A, B, C = (blob_id(d) for d in (b'one', b'two', b'three'))

def disk_full(monkeypatch):
    """Every write through repro's atomic writer fails with ENOSPC."""
    import repro.core._fs as fs
    real_fdopen = fs.os.fdopen

    class Full:
        def __init__(self, f):
            self._f = f

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self._f.close()

        def write(self, data):
            raise OSError(28, 'No space left on device')

    monkeypatch.setattr(fs.os, 'fdopen', lambda fd, mode: Full(real_fdopen(fd, mode)))


NOW = datetime.datetime(2026, 11, 24, 2, 10, 0, tzinfo=datetime.timezone.utc)


def test_run_id_is_readable_and_sortable():
    assert make_run_id('examples/cartpole vpg.py', 0, NOW, 'ab12') == \
        '20261124-021000-cartpole_vpg-s0-ab12'
    later = NOW + datetime.timedelta(seconds=1)
    assert make_run_id('z.py', 0, NOW, 'ffff') < make_run_id('a.py', 0, later, '0000')


def test_concurrent_runs_get_distinct_ids(tmp_path):
    store = RunStore(tmp_path)
    ids = []
    threads = [threading.Thread(target=lambda: ids.append(store.create_run('x.py', 1, NOW)))
               for _ in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(ids)) == 32
    assert sorted(store.run_ids()) == sorted(ids)


def test_store_ignores_itself_in_git(tmp_path):
    store = RunStore(tmp_path / '.repro').ensure()
    assert (tmp_path / '.repro' / '.gitignore').read_text().splitlines()[-1] == '*'
    assert os.path.isdir(store.runs_dir)


@pytest.mark.parametrize('bad', ['', '../etc', 'a/b', '..', '/abs', 'x..y', None])
def test_path_traversal_and_junk_ids_are_rejected(bad):
    with pytest.raises(RunNotFoundError):
        check_run_ref(bad)


def test_resolve_prefixes(tmp_path):
    store = RunStore(tmp_path)
    for suffix in ('aaaa', 'aabb', 'cccc'):
        os.makedirs(os.path.join(store.runs_dir, f'20261124-021000-x-s0-{suffix}'))
    assert store.resolve('20261124-021000-x-s0-c') == '20261124-021000-x-s0-cccc'
    with pytest.raises(AmbiguousRunError, match='matches 2 runs'):
        store.resolve('20261124-021000-x-s0-aa')
    with pytest.raises(RunNotFoundError):
        store.resolve('2025')


def test_objects_are_stored_once(tmp_path):
    store = RunStore(tmp_path)
    oid = blob_id(b'data')
    assert store.put_object(oid, b'data') == 4
    assert store.put_object(oid, b'data') == 0
    assert store.read_object(oid) == b'data'
    with pytest.raises(StoreError):
        store.object_path('../../x')


def test_manifest_round_trip_and_bad_manifests(tmp_path):
    store = RunStore(tmp_path)
    run_id = store.create_run('a.py', 0)
    store.write_manifest(run_id, {'format': 1, 'run_id': run_id})
    assert store.read_manifest(run_id)['run_id'] == run_id
    path = os.path.join(store.run_dir(run_id), 'manifest.json')
    with open(path, 'w') as f:
        f.write('{"format": 99}')
    with pytest.raises(StoreError, match='format 99'):
        store.read_manifest(run_id)
    with open(path, 'w') as f:
        f.write('{"format": 1, "trunc')
    with pytest.raises(StoreError, match='not valid JSON'):
        store.read_manifest(run_id)


def test_disk_full_while_storing_is_a_clear_error_with_nothing_half_written(tmp_path,
                                                                            monkeypatch):
    store = RunStore(tmp_path)
    disk_full(monkeypatch)
    with pytest.raises(StoreError, match='No space left on device'):
        store.put_object('b' * 40, b'data')
    leftovers = [p for p in (tmp_path / 'objects').rglob('*') if p.is_file()]
    assert leftovers == []


def test_packs_store_each_blob_once_and_a_failed_pack_never_counts(tmp_path, monkeypatch):
    store = RunStore(tmp_path)
    assert store.put_pack([(A, b'one'), (B, b'two'), (A, b'one')]) == 6
    assert store.put_pack([(A, b'one')]) == 0
    assert store.read_object(B) == b'two'
    disk_full(monkeypatch)
    with pytest.raises(StoreError, match='No space left on device'):
        store.put_pack([(C, b'three')])
    monkeypatch.undo()
    assert len(os.listdir(store.packs_dir)) == 2  # only the first pack and its index
    assert not RunStore(tmp_path).has_object(C)


def test_a_pack_without_its_index_does_not_count(tmp_path):
    store = RunStore(tmp_path)
    store.put_pack([('a' * 40, b'one')])
    idx = next(n for n in os.listdir(store.packs_dir) if n.endswith('.idx'))
    os.unlink(os.path.join(store.packs_dir, idx))  # e.g. killed between the two renames
    assert not RunStore(tmp_path).has_object('a' * 40)


def test_a_pack_cut_short_loses_its_entries_so_they_are_stored_again(tmp_path):
    store = RunStore(tmp_path)
    first, second = blob_id(b'first'), blob_id(b'second')
    store.put_pack([(first, b'first'), (second, b'second')])
    pack = next(p for p in os.listdir(store.packs_dir) if p.endswith('.pack'))
    os.truncate(os.path.join(store.packs_dir, pack), len(b'first'))  # e.g. power loss
    fresh = RunStore(tmp_path)
    assert fresh.has_object(first) and not fresh.has_object(second)
    assert fresh.put_pack([(second, b'second')]) == len(b'second')
    assert RunStore(tmp_path).read_object(second) == b'second'


def test_a_reader_sees_packs_written_after_it_loaded_the_index(tmp_path):
    reader, writer = RunStore(tmp_path), RunStore(tmp_path)
    writer.put_pack([(A, b'one')])
    assert reader.read_object(A) == b'one'
    writer.put_pack([(B, b'two')])
    assert reader.read_object(B) == b'two'  # index reloaded on the miss


def test_orphan_packs_are_swept_once_old(tmp_path):
    store = RunStore(tmp_path)
    store.put_pack([('a' * 40, b'one')])
    orphan = os.path.join(store.packs_dir, 'x.pack')  # killed before its index
    open(orphan, 'wb').close()
    store.put_pack([('b' * 40, b'two')])
    assert os.path.exists(orphan)  # young: may belong to a live writer
    os.utime(orphan, (0, 0))
    store.put_pack([('c' * 40, b'three')])
    assert not os.path.exists(orphan)


def test_a_damaged_packed_blob_is_never_returned_and_is_dropped(tmp_path):
    store = RunStore(tmp_path)
    store.put_pack([(A, b'one'), (B, b'two')])
    pack, offset, _ = store.object_location(B)
    with open(pack, 'r+b') as f:
        f.seek(offset)
        f.write(b'T')
    with pytest.raises(StoreError, match='damaged'):
        store.read_object(B)
    fresh = RunStore(tmp_path)
    assert not fresh.has_object(B) and fresh.read_object(A) == b'one'
    assert fresh.put_pack([(B, b'two')]) == 3  # stored again
    assert RunStore(tmp_path).read_object(B) == b'two'


def test_a_damaged_loose_object_is_removed(tmp_path):
    import hashlib
    store = RunStore(tmp_path)
    sha = hashlib.sha256(b'lock').hexdigest()
    store.put_object(sha, b'lock')
    with open(store.object_path(sha), 'wb') as f:
        f.write(b'lick')
    with pytest.raises(StoreError, match='damaged'):
        store.read_object(sha)
    assert not store.has_object(sha)
    assert store.put_object(sha, b'lock') == 4


def test_put_object_replaces_a_forged_copy(tmp_path):
    import hashlib
    store = RunStore(tmp_path)
    sha = hashlib.sha256(b'lock').hexdigest()
    os.makedirs(os.path.dirname(store.object_path(sha)))
    with open(store.object_path(sha), 'wb') as f:
        f.write(b'evil')
    assert store.put_object(sha, b'lock') == 4
    assert store.read_object(sha) == b'lock'


@pytest.mark.parametrize('entries', [
    {A: [-3, 3]}, {A: [0, True]}, {A: 'x'}, {'../x': [0, 3]}, {A: [0, 3, 1]},
])
def test_malformed_index_entries_count_as_missing(tmp_path, entries):
    import json
    store = RunStore(tmp_path)
    store.put_pack([(A, b'one')])
    idx = next(n for n in os.listdir(store.packs_dir) if n.endswith('.idx'))
    with open(os.path.join(store.packs_dir, idx), 'w') as f:
        json.dump(entries, f)
    assert RunStore(tmp_path)._packed() == {}


@pytest.mark.parametrize('text, needle', [
    (b'\xff\xfe', 'not valid JSON'),
    (b'{"a": 1}', 'not a list'),
    (b'[["a.py", "100644"]]', r'not a \[path, mode, id\] entry'),
    (b'[["a.py", "100644", 7]]', r'not a \[path, mode, id\] entry'),
    (b'[["a.py", "040000", "' + b'a' * 40 + b'"]]', 'unknown mode'),
    (b'[["a.py", "100644", "' + b'A' * 40 + b'"]]', 'not a git object id'),
    (b'[["../x", "100644", "' + b'a' * 40 + b'"]]', 'not a plain relative path'),
    (b'[[".GIT/config", "100644", "' + b'a' * 40 + b'"]]', 'inside a .git folder'),
])
def test_get_tree_refuses_malformed_listings_in_one_line(tmp_path, text, needle):
    store = RunStore(tmp_path)
    os.makedirs(os.path.join(store.root, 'trees'))
    with open(os.path.join(store.root, 'trees', 'c' * 40 + '.json'), 'wb') as f:
        f.write(text)
    with pytest.raises(StoreError, match=needle) as info:
        store.get_tree('c' * 40)
    assert '\n' not in str(info.value)


def test_tree_ids_that_name_other_files_are_refused(tmp_path):
    store = RunStore(tmp_path)
    with pytest.raises(StoreError, match='not a source tree id'):
        store.get_tree('../../etc/passwd')


def test_check_reports_every_kind_of_damage(tmp_path):
    import hashlib
    from repro.record.gitsource import tree_id
    store = RunStore(tmp_path)
    store.put_pack([(A, b'one'), (B, b'two')])
    files = [('a.py', '100644', A)]
    store.put_tree(tree_id(files), files)
    sha = hashlib.sha256(b'lock').hexdigest()
    store.put_object(sha, b'lock')
    assert store.check() == ([], {'packs': 1, 'blobs': 2, 'objects': 1, 'trees': 1})
    pack, offset, _ = store.object_location(B)
    with open(pack, 'r+b') as f:
        f.seek(offset)
        f.write(b'T')
    with open(store.object_path(sha), 'wb') as f:
        f.write(b'lick')
    with open(os.path.join(store.root, 'trees', 'd' * 40 + '.json'), 'w') as f:
        f.write('[["a.py", "100644", "%s"]]' % A)
    problems, _ = store.check()
    assert len(problems) == 3, problems
    assert f'blob {B} does not match its id' in problems[0]
    assert 'does not match its id' in problems[1] and 'objects/' in problems[1]
    assert 'does not hash to tree' in problems[2]


def test_store_folders_that_are_links_are_refused(tmp_path):
    outside = tmp_path / 'outside'
    outside.mkdir()
    store = RunStore(tmp_path / 'store')
    os.makedirs(store.root)
    os.symlink(outside, os.path.join(store.root, 'packs'))
    with pytest.raises(StoreError, match='packs in the run store .* is not a folder'):
        store.put_pack([(A, b'one')])
    assert list(outside.iterdir()) == []
