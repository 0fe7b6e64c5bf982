"""The examples reproduce bit for bit: reruns, seeds and resumes.

Small settings keep this fast; the code paths are the defaults' paths.
"""
import pathlib

import pytest

from repro.core.content import first_difference
from repro.experiment import Snapshotter
from tests.conftest import load_example
from tests.helpers import read_csv

SETTINGS = {
    'cartpole_vpg': dict(batch_size=800),
    'cartpole_cem': dict(batch_size=100, n_samples=6),
}
OPTIONS = {'archive_launch_repo': False, 'snapshot_mode': 'all'}

pytestmark = pytest.mark.slow


def new_log_dir(call):
    """Run ``call`` and return the one log directory it created."""
    root = pathlib.Path('data/local/experiment')
    before = set(root.glob('*')) if root.exists() else set()
    call()
    (created,) = set(root.glob('*')) - before
    return created


def run(example, **kwargs):
    experiment = getattr(load_example(example), example)
    return new_log_dir(lambda: experiment(dict(OPTIONS), **SETTINGS[example], **kwargs))


def resume(from_dir, n_epochs):
    module = load_example('resume_training')
    return new_log_dir(lambda: module.resume_experiment(
        dict(OPTIONS), saved_dir=str(from_dir), n_epochs=n_epochs))


def last_snapshot(log_dir):
    return Snapshotter(str(log_dir), 'all').load(str(log_dir), 'last')


@pytest.fixture(params=['cartpole_vpg', 'cartpole_cem'])
def example(request):
    if request.param == 'cartpole_vpg':
        pytest.importorskip('torch')
    pytest.importorskip('gymnasium')
    return request.param


def test_same_seed_is_byte_identical_and_seeds_differ(example):
    a = run(example, seed=0, n_epochs=3)
    b = run(example, seed=0, n_epochs=3)
    c = run(example, seed=1, n_epochs=3)
    assert (a / 'progress.csv').read_bytes() == (b / 'progress.csv').read_bytes()
    for itr in range(3):
        snap_a = Snapshotter(str(a), 'all').load(str(a), itr)
        snap_b = Snapshotter(str(b), 'all').load(str(b), itr)
        assert first_difference(snap_a, snap_b) is None, first_difference(snap_a, snap_b)
    assert (a / 'progress.csv').read_bytes() != (c / 'progress.csv').read_bytes()
    assert first_difference(last_snapshot(a)['algo'], last_snapshot(c)['algo']) is not None


def test_resume_is_identical_to_uninterrupted(example):
    full = run(example, seed=0, n_epochs=4)
    half = run(example, seed=0, n_epochs=2)
    resumed = resume(half, n_epochs=4)
    full_rows, resumed_rows = read_csv(full / 'progress.csv'), read_csv(resumed / 'progress.csv')
    assert [r['Epoch'] for r in resumed_rows] == ['2', '3']
    assert resumed_rows == full_rows[2:]
    diff = first_difference(last_snapshot(resumed)['algo'], last_snapshot(full)['algo'])
    assert diff is None, diff


def test_the_examples_learn():
    """Fixed seeds, so this is a regression check, not a flaky threshold."""
    pytest.importorskip('gymnasium')
    rows = read_csv(run('cartpole_cem', seed=0, n_epochs=5) / 'progress.csv')
    assert float(rows[-1]['AverageReturn']) > 2 * float(rows[0]['AverageReturn'])
