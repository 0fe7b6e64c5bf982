import os
import subprocess

import pytest

from repro.errors import SourceError, StoreError
from repro.record.gitsource import (BackgroundScan, export_tree, scan_source, snapshot_source,
                                    strip_credentials)
from repro.store.runs import RunStore
from tests.helpers import git


@pytest.mark.parametrize('url, expected', [
    ('https://user:tok@github.com/o/r.git', 'https://github.com/o/r.git'),
    ('https://x-access-token:abc@host:8443/o/r?token=abc#frag', 'https://host:8443/o/r'),
    ('ssh://git:pw@host/o/r', 'ssh://host/o/r'),
    ('git@github.com:o/r.git', 'git@github.com:o/r.git'),
    ('oauth2:glpat-SECRET@gitlab.com:g/r.git', 'gitlab.com:g/r.git'),
    ('http://u:p@[::1]:8080/r', 'http://[::1]:8080/r'),
    (None, None),
])
def test_strip_credentials(url, expected):
    assert strip_credentials(url) == expected


def test_clean_tree_snapshot(repo, tmp_path):
    store = RunStore(tmp_path / 'store')
    snap = snapshot_source(str(repo), store)
    head = git(repo, 'rev-parse', 'HEAD').strip()
    assert snap.commit == head and snap.branch == 'main'
    assert snap.tree == git(repo, 'rev-parse', 'HEAD^{tree}').strip()
    assert snap.dirty is False and snap.diff == b''
    assert snap.remote == 'https://github.com/o/r.git'
    assert 'SECRET' not in str(snap.git_record())


def test_untracked_and_modified_files_are_in_the_tree_not_in_the_index(repo, tmp_path):
    (repo / 'new.py').write_text('x = 1\n')
    (repo / 'ignored.txt').write_text('no\n')
    (repo / 'train.py').write_text('print(2)\n')
    status_before = git(repo, 'status', '--porcelain')
    index_before = (repo / '.git' / 'index').read_bytes()
    snap = snapshot_source(str(repo), RunStore(tmp_path / 'store'))
    assert sorted(p for p, _, _ in snap.files) == ['.gitignore', 'new.py', 'run.sh', 'train.py']
    assert snap.dirty is True
    assert b'+x = 1' in snap.diff and b'+print(2)' in snap.diff
    assert git(repo, 'status', '--porcelain') == status_before  # user's state untouched
    assert (repo / '.git' / 'index').read_bytes() == index_before


def test_unchanged_tree_costs_no_bytes_and_one_change_costs_one_blob(repo, tmp_path):
    store = RunStore(tmp_path / 'store')
    first = snapshot_source(str(repo), store)
    assert first.new_bytes > 0
    again = snapshot_source(str(repo), store)
    assert again.new_bytes == 0 and again.tree == first.tree
    (repo / 'train.py').write_text('print(3)\n')
    changed = snapshot_source(str(repo), store)
    assert changed.tree != first.tree
    # only the changed file's blob is new
    assert changed.new_bytes == len('print(3)\n')


def test_export_recreates_the_files_and_modes(repo, tmp_path):
    store = RunStore(tmp_path / 'store')
    snap = snapshot_source(str(repo), store)
    out = tmp_path / 'out'
    export_tree(store, snap.files, str(out))
    assert (out / 'train.py').read_text() == 'print(1)\n'
    assert os.access(out / 'run.sh', os.X_OK) and not os.access(out / 'train.py', os.X_OK)


def test_not_a_git_repository(tmp_path):
    (tmp_path / 'plain').mkdir()
    with pytest.raises(SourceError, match='not inside a git repository'):
        snapshot_source(str(tmp_path / 'plain'), RunStore(tmp_path / 'store'))


def test_pure_tree_id_matches_git(repo, tmp_path):
    from repro.record.gitsource import blob_id, tree_id
    (repo / 'sub' / 'deep').mkdir(parents=True)
    (repo / 'sub' / 'deep' / 'x.py').write_text('x\n')
    (repo / 'sub.py').write_text('s\n')  # sorts between 'sub/' entries in git's order
    store = RunStore(tmp_path / 'store')
    snap = snapshot_source(str(repo), store)
    assert tree_id(snap.files) == snap.tree
    for path, mode, oid in snap.files:
        assert blob_id(store.read_object(oid)) == oid


def test_each_snapshot_adds_at_most_one_pack(repo, tmp_path):
    store = RunStore(tmp_path / 'store')
    snapshot_source(str(repo), store)
    packs = sorted(os.listdir(store.packs_dir))
    assert [p.rsplit('.', 1)[1] for p in packs] == ['idx', 'pack']
    snapshot_source(str(repo), store)
    assert sorted(os.listdir(store.packs_dir)) == packs  # unchanged: no new pack
    (repo / 'train.py').write_text('print(4)\n')
    snapshot_source(str(repo), store)
    assert len(os.listdir(store.packs_dir)) == 4
    fresh = RunStore(store.root)  # a new process sees every committed pack
    from repro.record.gitsource import blob_id
    assert fresh.read_object(blob_id(b'print(4)\n')) == b'print(4)\n'


def test_blobs_that_differ_on_disk_come_from_git(repo, tmp_path):
    """A clean filter makes the worktree differ from the blob: git's bytes win."""
    (repo / '.gitattributes').write_text('*.txt filter=upper\n')
    git(repo, 'config', 'filter.upper.clean', 'tr a-z A-Z')
    (repo / 'note.txt').write_text('hello\n')
    store = RunStore(tmp_path / 'store')
    snap = snapshot_source(str(repo), store)
    from repro.record.gitsource import blob_id
    oid = next(o for p, _m, o in snap.files if p == 'note.txt')
    assert store.read_object(oid) == b'HELLO\n' and blob_id(b'HELLO\n') == oid


def test_a_short_blob_from_git_is_refused_and_nothing_is_stored(repo, tmp_path, monkeypatch):
    """git dying mid-object must not leave a truncated blob in the store."""
    (repo / '.gitattributes').write_text('*.txt filter=upper\n')  # forces the git path
    git(repo, 'config', 'filter.upper.clean', 'tr a-z A-Z')
    (repo / 'big.txt').write_text('x' * 100_000)
    import repro.record.gitsource
    monkeypatch.setattr(repro.record.gitsource, 'CAT_FILE',
                        ['sh', '-c', 'git cat-file --batch | head -c 1000'])
    store = RunStore(tmp_path / 'store')
    with pytest.raises(SourceError, match='damaged or short blob'):
        snapshot_source(str(repo), store)
    assert not os.path.isdir(store.packs_dir) or not os.listdir(store.packs_dir)


def flip_first_byte(store, oid):
    pack, offset, _size = store.object_location(oid)
    with open(pack, 'r+b') as f:
        f.seek(offset)
        first = f.read(1)
        f.seek(offset)
        f.write(bytes([first[0] ^ 1]))


def test_export_refuses_a_damaged_store_and_the_next_snapshot_heals_it(repo, tmp_path):
    store = RunStore(tmp_path / 'store')
    snap = snapshot_source(str(repo), store)
    oid = next(o for p, _m, o in snap.files if p == 'train.py')
    flip_first_byte(store, oid)
    with pytest.raises(StoreError, match='damaged .* dropped from the store'):
        export_tree(store, snap.files, str(tmp_path / 'out'))
    fresh = RunStore(store.root)  # the drop is on disk, not only in this process
    assert not fresh.has_object(oid)
    again = snapshot_source(str(repo), fresh)
    assert again.new_bytes == len('print(1)\n')
    export_tree(fresh, again.files, str(tmp_path / 'out2'))
    assert (tmp_path / 'out2' / 'train.py').read_text() == 'print(1)\n'


def test_a_damaged_blob_heals_within_the_same_run(repo, tmp_path):
    """The export after a snapshot restores a damaged blob from the working
    tree and retries, so the run that finds the damage still works."""
    from repro.store.sourcetree import export_files
    store = RunStore(tmp_path / 'store')
    snapshot_source(str(repo), store)
    flip_first_byte(store, next(o for p, _m, o in snapshot_source(str(repo), store).files
                                if p == 'train.py'))
    store = RunStore(store.root)  # a later `repro run`: its snapshot trusts the index
    snap = snapshot_source(str(repo), store)
    assert snap.new_bytes == 0
    src = export_files(store, snap.tree, snap.files)
    assert open(os.path.join(src, 'train.py')).read() == 'print(1)\n'


@pytest.mark.parametrize('url, expected', [
    ('ghp_abc123@github.com:o/r.git', 'github.com:o/r.git'),
    ('user:pa55@host.example:o/r.git', 'host.example:o/r.git'),
    ('git:pa55@host.example:o/r.git', 'host.example:o/r.git'),
    ('user:pa/ss@host:o/r', 'host:o/r'),
    ('git@gitlab.com:g/r.git', 'git@gitlab.com:g/r.git'),
    ('host.example:o/r.git', 'host.example:o/r.git'),
    ('/srv/git/r@2.git', '/srv/git/r@2.git'),
    ('https://ghp_abc123@github.com/o/r.git', 'https://github.com/o/r.git'),
    ('ssh://user:pa55@host:2222/o/r', 'ssh://host:2222/o/r'),
])
def test_scp_style_remotes_lose_their_credentials(url, expected):
    assert strip_credentials(url) == expected


def test_submodules_stop_the_snapshot_naming_them(repo, tmp_path):
    inner = repo / 'vendor' / 'lib'
    inner.mkdir(parents=True)
    git(inner, 'init', '-q')
    (inner / 'x.py').write_text('x\n')
    git(inner, '-c', 'user.name=a', '-c', 'user.email=a@b', 'commit', '-qm', 'i',
        '--allow-empty')
    with pytest.raises(SourceError, match=r'\(vendor/lib\).*does not snapshot.*vendor them'):
        snapshot_source(str(repo), RunStore(tmp_path / 'store'))


def test_names_that_are_not_utf8_snapshot_and_export(repo, tmp_path):
    from repro.record.gitsource import tree_id
    raw = os.path.join(os.fsencode(repo), b'caf\xe9.py')
    with open(raw, 'wb') as f:
        f.write(b'x = 1\n')
    store = RunStore(tmp_path / 'store')
    snap = snapshot_source(str(repo), store)
    name = os.fsdecode(b'caf\xe9.py')
    assert name in {p for p, _m, _o in snap.files}
    assert tree_id(snap.files) == snap.tree
    assert store.get_tree(snap.tree) == snap.files  # through the JSON listing
    out = tmp_path / 'out'
    export_tree(store, store.get_tree(snap.tree), str(out))
    with open(os.path.join(os.fsencode(out), b'caf\xe9.py'), 'rb') as f:
        assert f.read() == b'x = 1\n'


def test_large_files_are_named_and_left_out_of_the_diff(repo, tmp_path, monkeypatch):
    import repro.record.gitsource
    monkeypatch.setattr(repro.record.gitsource, 'LARGE', 1000)
    monkeypatch.setattr(repro.record.gitsource, 'IN_MEMORY', 100)  # streamed, in chunks
    (repo / 'data.txt').write_text('row\n' * 1000)
    (repo / 'small.py').write_text('y = 2\n')
    store = RunStore(tmp_path / 'store')
    snap = snapshot_source(str(repo), store)
    assert len(snap.warnings) == 1 and snap.warnings[0].startswith('data.txt is ')
    assert b'+y = 2' in snap.diff and b'row' not in snap.diff
    oid = next(o for p, _m, o in snap.files if p == 'data.txt')
    assert f':000000 100644 {"0" * 40} {oid} A\tdata.txt'.encode() in snap.diff
    assert store.read_object(oid) == b'row\n' * 1000


def test_a_large_file_changed_by_a_filter_comes_from_git(repo, tmp_path, monkeypatch):
    import repro.record.gitsource
    monkeypatch.setattr(repro.record.gitsource, 'IN_MEMORY', 100)
    (repo / '.gitattributes').write_text('*.txt filter=upper\n')
    git(repo, 'config', 'filter.upper.clean', 'tr a-z A-Z')
    (repo / 'note.txt').write_text('hello\n' * 100)
    store = RunStore(tmp_path / 'store')
    snap = snapshot_source(str(repo), store)
    oid = next(o for p, _m, o in snap.files if p == 'note.txt')
    assert store.read_object(oid) == b'HELLO\n' * 100
    assert len(os.listdir(store.packs_dir)) == 2  # still one pack


MEMORY_PROBE = r'''
import os, resource, sys
from repro.record.gitsource import snapshot_source
from repro.store.runs import RunStore
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
snap = snapshot_source(sys.argv[1], RunStore(sys.argv[2]))
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # git, too
print(max(after - before, children) // 1024, len(snap.warnings), len(snap.diff))
'''


def test_a_300_mb_file_snapshots_in_bounded_memory(repo, tmp_path):
    import sys
    git(repo, 'config', 'core.compression', '0')  # keep git's own add fast
    git(repo, 'config', 'core.looseCompression', '0')
    chunk = os.urandom(1 << 20)
    with open(repo / 'big.bin', 'wb') as f:
        for _ in range(300):
            f.write(chunk)
    try:
        out = subprocess.run([sys.executable, '-c', MEMORY_PROBE, str(repo),
                              str(tmp_path / 'store')], check=True, capture_output=True,
                             text=True, cwd=os.path.dirname(os.path.dirname(
                                 os.path.dirname(os.path.dirname(__file__))))).stdout
        grew_mb, warnings, diff_size = map(int, out.split())
        assert grew_mb < 200 and warnings == 1 and diff_size < (1 << 20), out
        pack = max((p for p in (tmp_path / 'store' / 'packs').iterdir()),
                   key=lambda p: p.stat().st_size)
        assert 300 << 20 <= pack.stat().st_size < 301 << 20  # streamed, stored whole
    finally:
        (repo / 'big.bin').unlink()
        import shutil
        shutil.rmtree(tmp_path / 'store', ignore_errors=True)


@pytest.mark.parametrize('stderr, line', [
    ("stderr: 'fatal: pathspec bad'", 'fatal: pathspec bad'),
    ("stderr: 'hint: x\nfatal: index.lock exists\nhint: y'", 'fatal: index.lock exists'),
    ('', 'exit code 128'),
])
def test_git_error_line(stderr, line):
    from repro.record.gitsource import git_error_line
    assert git_error_line(stderr, 128) == line


@pytest.mark.parametrize('fork', [True, False], ids=['forked', 'thread'])
def test_a_background_scan_is_the_scan(repo, tmp_path, fork):
    """Forked (JSON back through a pipe) or on a thread, the scan is the
    same, names that are not UTF-8 included, and so is its error."""
    (repo / os.fsdecode(b'caf\xe9.py')).write_text('x = 1\n')
    (repo / 'train.py').write_text('print(2)\n')
    with BackgroundScan(str(repo), fork=fork) as scan:
        got = scan.result()
    assert got == scan_source(str(repo)) and got.tree != got.head_tree
    assert os.fsdecode(b'caf\xe9.py') in [path for path, _mode, _oid in got.files]
    snap = snapshot_source(str(repo), RunStore(tmp_path / 'store'), BackgroundScan(str(repo),
                                                                                   fork=fork))
    assert (snap.tree, snap.commit) == (got.tree, got.commit)
    (tmp_path / 'plain').mkdir()
    with BackgroundScan(str(tmp_path / 'plain'), fork=fork) as scan:
        with pytest.raises(SourceError, match='is not inside a git repository'):
            scan.result()


def test_a_failed_scan_child_is_redone_in_the_parent(repo, monkeypatch):
    from repro.record import gitsource
    monkeypatch.setattr(gitsource, '_scan_answer', lambda path: os._exit(3))
    with BackgroundScan(str(repo), fork=True) as scan:
        assert scan.result() == scan_source(str(repo))


def test_leaving_early_reaps_the_child_and_its_index(repo, tmp_path, monkeypatch):
    import tempfile
    monkeypatch.setattr(tempfile, 'tempdir', str(tmp_path / 'tmp'))
    (tmp_path / 'tmp').mkdir()
    with pytest.raises(KeyboardInterrupt):
        with BackgroundScan(str(repo), fork=True) as scan:
            pid = scan._pid
            raise KeyboardInterrupt
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reaped: no zombie left
    assert not list((tmp_path / 'tmp').iterdir())  # its temporary index is gone


def test_an_edit_in_the_second_of_the_last_commit_is_snapshotted(tmp_path):
    """git trusts an index entry's stat data (whole seconds) only when the
    entry is older than the index file. The snapshot's copy of the user's
    index keeps the index's mtime, so a same-size edit made in the second
    of the commit is seen when the snapshot comes a second later."""
    import time
    root = tmp_path / 'p'
    root.mkdir()
    git(root, 'init', '-q', '-b', 'main')
    for _ in range(5):  # the edit must land in the second the index was written
        (root / 'train.py').write_text('print(1)\n')
        git(root, 'add', '.')
        git(root, '-c', 'user.name=T', '-c', 'user.email=t@e', 'commit', '-qm', 'c',
            '--allow-empty')
        (root / 'train.py').write_text('print(2)\n')  # same size, same inode
        index = os.stat(root / '.git' / 'index').st_mtime_ns // 10**9
        if os.stat(root / 'train.py').st_ctime_ns // 10**9 == index:
            break
    time.sleep(1.05 - time.time() % 1)  # into the next second
    snap = snapshot_source(str(root), RunStore(tmp_path / 'store'))
    assert snap.dirty and b'+print(2)' in snap.diff
