import os
import pickle

import pytest

from repro.errors import ConfigError, SnapshotNotFoundError
from repro.experiment import Snapshotter


@pytest.mark.parametrize('mode, gap, files', [
    ('all', 1, {'itr_0.pkl': 0, 'itr_1.pkl': 1, 'itr_2.pkl': 2, 'itr_3.pkl': 3, 'itr_4.pkl': 4}),
    ('last', 1, {'params.pkl': 4}),
    ('gap', 2, {'itr_0.pkl': 0, 'itr_2.pkl': 2, 'itr_4.pkl': 4}),
    ('gap', 3, {'itr_0.pkl': 0, 'itr_3.pkl': 3}),
    ('gap_and_last', 3, {'itr_0.pkl': 0, 'itr_3.pkl': 3, 'params.pkl': 4}),
    ('gap_overwrite', 3, {'params.pkl': 3}),
    ('none', 1, {}),
])
def test_each_mode_writes_garages_files(tmp_path, mode, gap, files):
    snapshotter = Snapshotter(str(tmp_path), mode, gap)
    for itr in range(5):
        snapshotter.save_itr_params(itr, {'itr': itr})
    snapshotter.wait()
    assert sorted(os.listdir(tmp_path)) == sorted(files)
    for name, itr in files.items():
        with open(tmp_path / name, 'rb') as f:
            assert pickle.load(f) == {'itr': itr}


@pytest.mark.parametrize('mode, gap', [
    ('sometimes', 1), ('last', 2), ('gap_overwrite', 1), ('gap', 0), ('gap', 1.5), ('all', True),
])
def test_invalid_options(tmp_path, mode, gap):
    with pytest.raises(ConfigError):
        Snapshotter(str(tmp_path), mode, gap)


def test_load_orders_iterations_numerically(tmp_path):
    snapshotter = Snapshotter(str(tmp_path), 'all')
    for itr in (2, 9, 10):
        snapshotter.save_itr_params(itr, itr)
    assert snapshotter.load(str(tmp_path), 'last') == 10
    assert snapshotter.load(str(tmp_path), 'first') == 2
    assert snapshotter.load(str(tmp_path), 9) == 9
    assert snapshotter.load(str(tmp_path), '10') == 10


def test_last_prefers_params_and_first_prefers_lowest_itr(tmp_path):
    snapshotter = Snapshotter(str(tmp_path), 'gap_and_last', 2)
    for itr in range(5):
        snapshotter.save_itr_params(itr, itr)
    assert snapshotter.load(str(tmp_path), 'last') == 4
    assert snapshotter.load(str(tmp_path), 'first') == 0


def test_load_errors(tmp_path):
    snapshotter = Snapshotter(str(tmp_path), 'all')
    with pytest.raises(SnapshotNotFoundError):
        snapshotter.load(str(tmp_path))
    with pytest.raises(SnapshotNotFoundError):
        snapshotter.load(str(tmp_path / 'missing'))
    snapshotter.save_itr_params(1, 1)
    with pytest.raises(SnapshotNotFoundError):
        snapshotter.load(str(tmp_path), 5)
    with pytest.raises(ConfigError):
        snapshotter.load(str(tmp_path), 'middle')


class Exploding:
    def __reduce__(self):
        raise RuntimeError('cannot pickle mid-way')


def test_failed_save_keeps_the_previous_snapshot_whole(tmp_path):
    snapshotter = Snapshotter(str(tmp_path), 'last')
    snapshotter.save_itr_params(0, {'good': list(range(1000))})
    snapshotter.wait()
    before = (tmp_path / 'params.pkl').read_bytes()
    with pytest.raises(RuntimeError):
        snapshotter.save_itr_params(1, {'a': list(range(1000)), 'b': Exploding()})
    assert (tmp_path / 'params.pkl').read_bytes() == before
    assert os.listdir(tmp_path) == ['params.pkl']  # no temporary left behind


def test_write_failure_surfaces_and_leaves_the_old_snapshot(tmp_path, monkeypatch):
    import repro.core._fs as fs
    snapshotter = Snapshotter(str(tmp_path), 'last')
    snapshotter.save_itr_params(0, 'old')
    snapshotter.wait()

    def broken_fsync(fd):
        raise OSError(28, 'No space left on device')
    with monkeypatch.context() as patched:
        patched.setattr(fs.os, 'fsync', broken_fsync)
        snapshotter.save_itr_params(1, 'new')  # the write happens in the background
        with pytest.raises(OSError, match='No space'):
            snapshotter.wait()
    assert snapshotter.load(str(tmp_path)) == 'old'
    assert os.listdir(tmp_path) == ['params.pkl']


def test_a_failed_background_write_fails_the_experiment(monkeypatch):
    import json
    import pathlib

    import repro.core._fs as fs
    from repro import wrap_experiment
    @wrap_experiment(archive_launch_repo=False)
    def exp(ctxt=None):
        Snapshotter(ctxt.snapshot_dir).save_itr_params(0, 'state')

    def broken_fsync(fd):
        raise OSError(28, 'No space left on device')
    with monkeypatch.context() as patched:
        patched.setattr(fs.os, 'fsync', broken_fsync)
        with pytest.raises(OSError, match='No space'):
            exp()
    log_dir = pathlib.Path('data/local/experiment/exp')
    assert json.loads((log_dir / 'metadata.json').read_text())['status'] == 'failed'
    assert 'No space left' in (log_dir / 'debug.log').read_text()
    assert not (log_dir / 'params.pkl').exists()


def test_save_returns_before_the_disk_write_but_load_sees_it(tmp_path):
    snapshotter = Snapshotter(str(tmp_path), 'all')
    for itr in range(3):
        snapshotter.save_itr_params(itr, itr)
    assert snapshotter.load(str(tmp_path), 'last') == 2
