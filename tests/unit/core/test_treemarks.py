"""An exported source tree is fully re-hashed once per machine, then only
walked with lstat while its stat signature is the verified one (the attacks
on it are in tests/security/test_store_attacks.py)."""
import os
import tempfile

import pytest

from repro.store import sourcetree, treemarks
from repro.store.runs import RunStore


@pytest.fixture
def exported(repo, tmp_path, monkeypatch):
    """(export again, full checks counted) of a snapshot's export, with
    this test's own private marker folder."""
    from repro.record.gitsource import snapshot_source
    monkeypatch.setattr(tempfile, 'tempdir', str(tmp_path / 'tmp'))
    (tmp_path / 'tmp').mkdir()
    store = RunStore(tmp_path / 'store')
    snap = snapshot_source(str(repo), store)
    checks, matches = [], sourcetree.matches
    monkeypatch.setattr(sourcetree, 'matches', lambda *a: (checks.append(1), matches(*a))[1])
    sourcetree.export_files(store, snap.tree, snap.files)
    return (lambda: sourcetree.export_files(store, snap.tree, snap.files)), checks


def test_a_verified_export_is_not_hashed_again(exported, monkeypatch):
    again, checks = exported
    monkeypatch.setattr(treemarks, 'RACY_SECONDS', -3600)  # as if exported an hour ago
    src = again()
    assert checks == [1]
    assert again() == again() == src and checks == [1]
    os.chmod(os.path.join(src, 'train.py'), 0o600)  # any change: checked in full again
    again()
    assert checks == [1, 1]


def test_a_tree_changed_just_now_is_not_remembered(exported, monkeypatch):
    """As git's racy-index rule: an edit in the same clock tick as the last
    change would keep its ctime. (An hour's window: a stalled test host still
    counts as "just now".)"""
    again, checks = exported
    monkeypatch.setattr(treemarks, 'RACY_SECONDS', 3600)
    again()
    again()
    assert checks == [1, 1]


def test_a_private_folder_others_can_write_is_not_trusted(exported, monkeypatch, tmp_path):
    again, checks = exported
    monkeypatch.setattr(treemarks, 'RACY_SECONDS', -3600)
    again()
    folder = tmp_path / 'tmp' / f'repro-{os.getuid()}-verified'
    os.chmod(folder, 0o777)
    again()
    assert checks == [1, 1]
