"""Forged run stores, as a repository that committed ``.repro/`` would carry.

The attacker controls every byte under the store: tree listings, packs and
their indexes, exported trees, and which folders are links. Whatever they
plant, repro writes and reads nothing outside the project (the ``outside``
folder stays as it was) and refuses with one ``ReproError`` line, or
repairs the store.
"""
import json
import os
import time

import pytest

from repro.cli import main
from repro.errors import ReproError, StoreError
from repro.record.gitsource import blob_id, tree_id
from repro.store.sourcetree import export_files


@pytest.fixture
def outside(tmp_path):
    path = tmp_path / 'outside'
    path.mkdir()
    (path / 'victim.py').write_text('print("mine")\n')
    return path


def state(folder):
    """Everything under ``folder``: names, kinds and contents."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            out[os.path.relpath(full, folder)] = (
                os.readlink(full) if os.path.islink(full) else
                None if os.path.isdir(full) else open(full, 'rb').read())
    return out


def plant(store, entries):
    """Write blobs and a tree listing for [(path, mode, bytes)]: a forged
    listing that still hashes right. Returns (tree, files)."""
    files = [(path, mode, blob_id(data)) for path, mode, data in entries]
    store.put_pack([(oid, data) for (_p, _m, oid), (_, _, data) in zip(files, entries)])
    tree = tree_id(files)
    os.makedirs(os.path.join(store.root, 'trees'), exist_ok=True)
    with open(os.path.join(store.root, 'trees', tree + '.json'), 'w') as f:
        json.dump(files, f)
    return tree, files


def one_line(exc_info):
    text = str(exc_info.value)
    assert isinstance(exc_info.value, ReproError) and '\n' not in text
    return text


def test_dot_dot_paths_write_nothing_outside(forger, outside):
    before = state(outside)
    rel = os.path.relpath(outside / 'victim.py', forger.store.root + '/src/x')
    tree, files = plant(forger.store, [(rel, '100644', b'import os  # pwned\n')])
    with pytest.raises(StoreError) as info:
        forger.store.get_tree(tree)
    assert 'not a plain relative path' in one_line(info)
    with pytest.raises(StoreError):  # a caller handing the list on directly
        export_files(forger.store, tree, files)
    assert state(outside) == before


def test_a_link_then_a_file_below_it_writes_nothing_through_the_link(forger, outside):
    before = state(outside)
    tree, files = plant(forger.store, [(
        'link', '120000', str(outside).encode()), ('link/victim.py', '100644', b'pwned\n')])
    with pytest.raises(StoreError) as info:
        export_files(forger.store, tree, files)
    assert 'below the non-folder entry link' in one_line(info)
    assert state(outside) == before


def test_a_link_out_of_the_tree_is_created_as_data_only(forger, outside):
    before = state(outside)
    tree, files = plant(forger.store, [('a', '120000', str(outside).encode()),
                                       ('b.py', '100644', b'b\n')])
    src = export_files(forger.store, tree, forger.store.get_tree(tree))
    assert os.readlink(os.path.join(src, 'a')) == str(outside)
    assert state(outside) == before


def edit_export(src, outside, edit):
    target = os.path.join(src, 'train.py')
    if edit == 'content':
        with open(target, 'w') as f:
            f.write('print("pwned")\n')
    elif edit == 'same size and times':  # mtime and atime put back: only the ctime moves
        st = os.stat(target)
        with open(target, 'r+') as f:
            f.write('print(2)\n')
        os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))
    elif edit == 'extra':
        with open(os.path.join(src, 'sitecustomize.py'), 'w') as f:
            f.write('print("pwned")\n')
    elif edit == 'exec bit':
        os.chmod(target, 0o755)
    else:  # same bytes, but writes through it would land outside
        (outside / 'train.py').write_text('print(1)\n')
        os.unlink(target)
        (os.symlink if edit == 'link' else os.link)(outside / 'train.py', target)


EDITS = ['content', 'same size and times', 'extra', 'exec bit', 'link', 'hard link']


@pytest.mark.parametrize('remembered', [False, True], ids=['fresh', 'verified before'])
@pytest.mark.parametrize('edit', EDITS)
def test_an_edited_export_is_never_used_again(forger, outside, edit, remembered, monkeypatch,
                                              tmp_path):
    """Also once this machine remembers the export as verified (its stat
    signature, repro.store.treemarks): every edit moves a ctime."""
    import tempfile
    from repro.store import treemarks
    monkeypatch.setattr(tempfile, 'tempdir', str(tmp_path))  # this test's private markers
    monkeypatch.setattr(treemarks, 'RACY_SECONDS', -3600 if remembered else 2)
    tree, files = plant(forger.store, [('train.py', '100644', b'print(1)\n')])
    src = export_files(forger.store, tree, files)
    if remembered:
        assert export_files(forger.store, tree, files) == src
        assert treemarks.unchanged(src, tree)
        # The real RACY_SECONDS keeps a tree changed in the last ticks unremembered;
        # faked away, an edit must still land in a later ctime tick (4 ms on kernels
        # before 6.13) to be seen, as it always would after a real marker.
        time.sleep(0.02)
    edit_export(src, outside, edit)
    before = state(outside)
    assert export_files(forger.store, tree, files) == src
    assert state(src) == {'train.py': b'print(1)\n'}
    target = os.path.join(src, 'train.py')
    assert os.stat(target).st_mode & 0o777 == 0o644 and os.stat(target).st_nlink == 1
    assert state(outside) == before


def test_an_export_that_is_a_link_outside_is_dropped_not_followed(forger, outside):
    tree, files = plant(forger.store, [('victim.py', '100644', b'print("mine")\n')])
    os.makedirs(os.path.join(forger.store.root, 'src'))
    os.symlink(outside, os.path.join(forger.store.root, 'src', tree))
    before = state(outside)
    src = export_files(forger.store, tree, files)
    assert not os.path.islink(src) and state(src) == {'victim.py': b'print("mine")\n'}
    assert state(outside) == before


@pytest.mark.parametrize('folder', ['src', 'packs', 'trees', 'objects'])
def test_store_folders_that_link_outside_are_refused(forger, outside, folder):
    tree, files = plant(forger.store, [('a.py', '100644', b'a\n')])
    import shutil
    shutil.rmtree(os.path.join(forger.store.root, folder), ignore_errors=True)
    os.symlink(outside, os.path.join(forger.store.root, folder))
    before = state(outside)
    store = type(forger.store)(forger.store.root)
    with pytest.raises(StoreError) as info:
        if folder == 'trees':
            store.put_tree(tree, files)
        elif folder == 'objects':
            store.put_object('e' * 64, b'x')
        else:
            export_files(store, tree, files)
    assert 'is not a folder' in one_line(info)
    assert state(outside) == before


def test_a_store_root_that_links_outside_is_refused(tmp_path, outside, monkeypatch):
    from repro.store.runs import RunStore
    monkeypatch.delenv('REPRO_HOME', raising=False)
    project = tmp_path / 'p'
    project.mkdir()
    os.symlink(outside, project / '.repro')
    with pytest.raises(StoreError) as info:
        RunStore.for_project(str(project)).ensure()
    assert 'is a link' in one_line(info)
    assert state(outside) == {'victim.py': b'print("mine")\n'}


def test_a_listing_that_links_outside_is_not_read(forger, outside):
    listing = outside / 'tree.json'
    listing.write_text(json.dumps([['a.py', '100644', 'a' * 40]]))
    os.makedirs(os.path.join(forger.store.root, 'trees'))
    os.symlink(listing, os.path.join(forger.store.root, 'trees', 'c' * 40 + '.json'))
    with pytest.raises(StoreError) as info:
        forger.store.get_tree('c' * 40)
    one_line(info)


def test_a_tree_id_that_climbs_out_is_refused(forger, outside):
    with pytest.raises(StoreError) as info:
        export_files(forger.store, '../../outside', [])
    assert 'not a source tree id' in one_line(info)
    assert state(outside) == {'victim.py': b'print("mine")\n'}


def test_a_forged_index_never_gets_other_bytes_exported(forger):
    """The index claims train.py's id for bytes of the attacker's choosing."""
    store = forger.store
    store.put_pack([(blob_id(b'pwned\n'), b'pwned\n')])
    idx = next(n for n in os.listdir(store.packs_dir) if n.endswith('.idx'))
    honest = blob_id(b'print(1)\n')
    with open(os.path.join(store.packs_dir, idx), 'w') as f:
        json.dump({honest: [0, 6]}, f)
    files = [('train.py', '100644', honest)]
    fresh = type(store)(store.root)
    with pytest.raises(StoreError) as info:
        export_files(fresh, tree_id(files), files)
    assert 'train.py in the run store was damaged' in one_line(info)
    assert not type(store)(store.root).has_object(honest)  # dropped: next snapshot heals


def test_replay_of_a_forged_listing_is_one_line_and_writes_nothing(forger, outside, capsys):
    rel = os.path.relpath(outside / 'victim.py', forger.store.root + '/src/x')
    before = state(outside)
    os.makedirs(os.path.join(forger.store.root, 'trees'))
    with open(os.path.join(forger.store.root, 'trees', 'b' * 40 + '.json'), 'w') as f:
        json.dump([[rel, '100644', blob_id(b'x')]], f)
    code = main(['replay', forger.run_id])
    err = capsys.readouterr().err
    assert code != 0 and len(err.strip().splitlines()) == 1 and 'Traceback' not in err
    assert state(outside) == before


def test_verify_store_reports_a_forged_pack(forger, capsys):
    plant(forger.store, [('a.py', '100644', b'a\n')])
    assert main(['verify', '--store']) == 0
    assert 'run store verified: 1 packs (1 blobs)' in capsys.readouterr().out
    pack = next(p for p in os.listdir(forger.store.packs_dir) if p.endswith('.pack'))
    with open(os.path.join(forger.store.packs_dir, pack), 'r+b') as f:
        f.write(b'b')
    assert main(['verify', '--store']) == 3
    out, err = capsys.readouterr()
    assert 'does not match its id' in out and 'failed verification' in err


@pytest.mark.parametrize('args', [['verify'], ['verify', 'x', '--store']])
def test_verify_needs_exactly_one_of_run_or_store(forger, capsys, args):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert 'exactly one of RUN or --store' in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize('swap', ['outputs', 'run'])
def test_resuming_never_mounts_a_directory_a_link_points_at(tmp_path, outside, swap):
    """Issue 13: a sweep's next attempt mounts its earlier attempt's outputs
    into the container. A forged store whose run (or outputs) is a link to a
    directory of this host must not get that directory mounted."""
    import shutil

    from repro.errors import RunNotFoundError, UntrustedFileError
    from repro.execute.container import earlier_outputs
    from tests.helpers import make_run
    store, run_id = make_run(str(tmp_path / 'store'))
    assert earlier_outputs(store, run_id) == os.path.join(store.run_dir(run_id), 'outputs')
    victim = os.path.join(store.run_dir(run_id), 'outputs') if swap == 'outputs' \
        else store.run_dir(run_id)
    shutil.rmtree(victim)
    os.symlink(outside, victim)
    with pytest.raises(UntrustedFileError, match='not a directory'):
        earlier_outputs(store, run_id)
    with pytest.raises(RunNotFoundError):
        earlier_outputs(store, '../../etc')
