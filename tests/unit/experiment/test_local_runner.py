import pathlib

import pytest

from repro import wrap_experiment
from repro.core.content import first_difference
from repro.errors import ConfigError, NotSetupError
from repro.experiment import LocalRunner, Snapshotter, Trainer, deterministic
from repro.sampler import LocalSampler, MultiprocessingSampler
from tests.helpers import NoisyWalk, ToyAlgo, read_csv

OPTIONS = dict(archive_launch_repo=False, snapshot_mode='all')


@wrap_experiment(**OPTIONS)
def toy(ctxt=None, seed=0, n_epochs=6, sampler='local', n_workers=1, set_seed=True):
    if set_seed:
        deterministic.set_seed(seed)
    runner = LocalRunner(ctxt)
    sampler_cls = {'local': LocalSampler, 'parallel': MultiprocessingSampler}[sampler]
    runner.setup(ToyAlgo(), NoisyWalk(), sampler_cls=sampler_cls, n_workers=n_workers)
    runner.train(n_epochs=n_epochs, batch_size=40)
    return ctxt.snapshot_dir


@wrap_experiment(**OPTIONS)
def resume_toy(ctxt=None, from_dir=None, from_epoch='last', n_epochs=None):
    runner = LocalRunner(ctxt)
    runner.restore(from_dir, from_epoch)
    runner.resume(n_epochs=n_epochs)
    return ctxt.snapshot_dir


def rows(log_dir):
    return read_csv(pathlib.Path(log_dir) / 'progress.csv')


def final_state(log_dir):
    return Snapshotter(log_dir, 'all').load(log_dir, 'last')


def test_same_seed_gives_byte_identical_progress_and_equal_snapshots():
    a, b = toy(seed=3), toy(seed=3)
    assert (pathlib.Path(a) / 'progress.csv').read_bytes() == \
        (pathlib.Path(b) / 'progress.csv').read_bytes()
    assert first_difference(final_state(a)['algo'], final_state(b)['algo']) is None
    assert first_difference(final_state(a)['sampler'], final_state(b)['sampler']) is None
    c = toy(seed=4)
    assert rows(a) != rows(c)


@pytest.mark.parametrize('sampler, n_workers', [
    ('local', 1), ('local', 3), pytest.param('parallel', 2, marks=pytest.mark.slow)])
def test_resume_equals_uninterrupted_training(sampler, n_workers):
    full = toy(seed=1, n_epochs=6, sampler=sampler, n_workers=n_workers)
    half = toy(seed=1, n_epochs=3, sampler=sampler, n_workers=n_workers)
    resumed = resume_toy(from_dir=half, n_epochs=6)
    assert [r['Epoch'] for r in rows(resumed)] == ['3', '4', '5']
    assert rows(resumed) == rows(full)[3:]
    diff = first_difference(final_state(resumed)['algo'], final_state(full)['algo'])
    assert diff is None, diff
    assert first_difference(final_state(resumed)['rng'], final_state(full)['rng']) is None


def test_resume_from_an_earlier_epoch():
    full = toy(seed=2, n_epochs=5)
    resumed = resume_toy(from_dir=full, from_epoch=1, n_epochs=5)
    assert rows(resumed) == rows(full)[2:]


def test_snapshot_contents():
    snap = final_state(toy(seed=0, n_epochs=2))
    assert {'algo', 'env', 'sampler', 'rng', 'stats', 'train_args', 'setup_args',
            'n_workers', 'worker_class', 'worker_args'} <= set(snap)
    assert snap['stats'].total_epoch == 1
    assert snap['stats'].total_env_steps >= 80
    assert snap['setup_args'].seed == 0
    assert {'python', 'numpy'} <= set(snap['rng'])


def test_without_set_seed_workers_still_get_a_recorded_seed():
    log_dir = toy(set_seed=False, n_epochs=1)
    snap = final_state(log_dir)
    assert isinstance(snap['setup_args'].seed, int)
    assert 'set_seed() was not called' in (pathlib.Path(log_dir) / 'debug.log').read_text()


def test_trainer_is_an_alias():
    assert Trainer is LocalRunner


def test_errors_before_setup(tmp_path):
    ctxt = type('C', (), dict(snapshot_dir=str(tmp_path), snapshot_mode='last',
                              snapshot_gap=1))()
    runner = LocalRunner(ctxt)
    with pytest.raises(NotSetupError):
        runner.train(1, 10)
    with pytest.raises(NotSetupError):
        runner.save(0)
    with pytest.raises(NotSetupError):
        runner.resume()
    with pytest.raises(NotSetupError):
        runner.obtain_episodes(0, 10)
    with pytest.raises(ConfigError):
        LocalRunner(None)


def test_obtain_episodes_needs_a_batch_size(tmp_path):
    ctxt = type('C', (), dict(snapshot_dir=str(tmp_path), snapshot_mode='none',
                              snapshot_gap=1))()
    deterministic.set_seed(0)
    runner = LocalRunner(ctxt)
    runner.setup(ToyAlgo(), NoisyWalk())
    with pytest.raises(ConfigError, match='batch_size'):
        runner.obtain_episodes(0)
    assert runner.obtain_episodes(0, 5).n_steps >= 5
