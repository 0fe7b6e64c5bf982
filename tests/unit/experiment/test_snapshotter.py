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


def load_file(path):
    with open(path, 'rb') as f:
        return pickle.load(f)


@pytest.mark.parametrize('mode', ['all', 'last', 'gap_and_last'])
def test_the_file_is_complete_under_its_final_name_when_save_returns(tmp_path, mode):
    """garage's save_itr_params writes synchronously (snapshotter.py,
    ``with open(file_name, 'wb')``): code that reads a snapshot right after
    saving it must find that iteration, never the previous one."""
    snapshotter = Snapshotter(str(tmp_path), mode)
    for itr in range(3):
        paths = snapshotter.save_itr_params(itr, {'itr': itr, 'big': list(range(10_000))})
        for path in paths:
            assert load_file(path)['itr'] == itr
        assert not [n for n in os.listdir(tmp_path) if n.endswith('.tmp')]
    if mode != 'all':
        assert load_file(tmp_path / 'params.pkl')['itr'] == 2


def test_a_failed_save_raises_there_and_keeps_the_previous_snapshot_whole(tmp_path):
    snapshotter = Snapshotter(str(tmp_path), 'last')
    snapshotter.save_itr_params(0, {'good': list(range(1000))})
    before = (tmp_path / 'params.pkl').read_bytes()
    with pytest.raises(RuntimeError, match='cannot pickle'):
        snapshotter.save_itr_params(1, {'a': list(range(1000)), 'b': Exploding()})
    assert (tmp_path / 'params.pkl').read_bytes() == before
    assert os.listdir(tmp_path) == ['params.pkl']  # no temporary left behind
    snapshotter.wait()  # the failure was reported once, by the save


def test_errors_belong_to_the_snapshotter_that_caused_them(tmp_path, monkeypatch):
    """Issue 12: one Snapshotter's failed rename (its directory was deleted)
    used to surface later, from another Snapshotter's save."""
    real_replace = os.replace

    def replace(src, dst):
        if str(dst).startswith(str(tmp_path / 'broken')):
            raise FileNotFoundError(2, 'No such file or directory', dst)
        return real_replace(src, dst)
    monkeypatch.setattr(os, 'replace', replace)
    broken = Snapshotter(str(tmp_path / 'broken'), 'last')
    healthy = Snapshotter(str(tmp_path / 'ok'), 'last')
    with pytest.raises(FileNotFoundError, match='broken'):
        broken.save_itr_params(0, 'state')
    assert os.listdir(tmp_path / 'broken') == []
    healthy.save_itr_params(0, 'state')
    healthy.save_itr_params(1, 'state')
    healthy.wait()
    assert load_file(tmp_path / 'ok' / 'params.pkl') == 'state'


def fsync_failing_under(directory, calls):
    """An ``os.fsync`` that fails for files under ``directory`` and records
    the path of every descriptor it is given."""
    real = os.fsync

    def fsync(fd):
        path = os.readlink(f'/proc/self/fd/{fd}')
        calls.append(path)
        if path.startswith(str(directory)):
            raise OSError(5, 'Input/output error')
        return real(fd)
    return fsync


def test_a_failed_fsync_is_raised_by_its_own_snapshotter_only(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(os, 'fsync', fsync_failing_under(tmp_path / 'a', calls))
    a, b = Snapshotter(str(tmp_path / 'a'), 'last'), Snapshotter(str(tmp_path / 'b'), 'last')
    a.save_itr_params(0, 'a0')
    b.save_itr_params(0, 'b0')
    b.save_itr_params(1, 'b1')
    b.wait()
    with pytest.raises(OSError, match='Input/output'):
        a.wait()
    a.wait()  # raised once
    assert load_file(tmp_path / 'a' / 'params.pkl') == 'a0'  # visible all along


def test_a_failed_fsync_is_raised_by_the_next_save_of_the_same_snapshotter(tmp_path,
                                                                          monkeypatch):
    monkeypatch.setattr(os, 'fsync', fsync_failing_under(tmp_path, []))
    snapshotter = Snapshotter(str(tmp_path), 'all')
    snapshotter.save_itr_params(0, 0)
    with pytest.raises(OSError, match='Input/output'):
        snapshotter.save_itr_params(1, 1)
    assert sorted(os.listdir(tmp_path)) == ['itr_0.pkl']


def test_wait_makes_the_file_and_its_directory_durable(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(os, 'fsync', fsync_failing_under(tmp_path / 'nothing', calls))
    snapshotter = Snapshotter(str(tmp_path), 'gap_and_last', 2)
    snapshotter.save_itr_params(2, 'state')
    snapshotter.wait()
    assert sorted(calls) == sorted([str(tmp_path / 'itr_2.pkl'), str(tmp_path / 'params.pkl'),
                                    str(tmp_path)])


def test_a_failed_fsync_fails_the_experiment(monkeypatch):
    """Nobody waited on this Snapshotter: the end of the experiment does."""
    import json
    import pathlib

    from repro import wrap_experiment

    @wrap_experiment(archive_launch_repo=False)
    def exp(ctxt=None):
        Snapshotter(ctxt.snapshot_dir).save_itr_params(0, 'state')

    log_dir = pathlib.Path('data/local/experiment/exp').resolve()
    monkeypatch.setattr(os, 'fsync', fsync_failing_under(log_dir / 'params.pkl', []))
    with pytest.raises(OSError, match='Input/output'):
        exp()
    assert json.loads((log_dir / 'metadata.json').read_text())['status'] == 'failed'
    assert 'Input/output error' in (log_dir / 'debug.log').read_text()


def test_a_full_disk_fails_that_save_and_keeps_the_previous_snapshot(tmp_path):
    """A write error (here EFBIG from a file-size limit, as ENOSPC would be)
    is raised by the save that hit it; the old params.pkl stays whole."""
    import errno
    import subprocess
    import sys
    import textwrap

    from tests.conftest import ROOT
    code = textwrap.dedent(f'''
        import os, resource, signal, sys
        from repro.experiment import Snapshotter
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, resource.RLIM_INFINITY))
        snapshotter = Snapshotter({str(tmp_path)!r}, 'last')
        snapshotter.save_itr_params(0, 'small')
        try:
            snapshotter.save_itr_params(1, b'x' * 200_000)
        except OSError as exc:
            print('raised', exc.errno)
        snapshotter.wait()
    ''')
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                            cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ['raised', str(errno.EFBIG)]
    assert os.listdir(tmp_path) == ['params.pkl']
    assert load_file(tmp_path / 'params.pkl') == 'small'
