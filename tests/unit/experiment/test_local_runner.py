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


def make_runner(tmp_path, mode='none'):
    ctxt = type('C', (), dict(snapshot_dir=str(tmp_path), snapshot_mode=mode,
                              snapshot_gap=1))()
    deterministic.set_seed(0)
    return LocalRunner(ctxt)


def test_obtain_samples_returns_garages_path_dicts(tmp_path):
    """garage 2020.06 ``LocalRunner.obtain_samples(itr, batch_size)`` returns
    ``TrajectoryBatch.to_trajectory_list()``: one dict per episode."""
    runner = make_runner(tmp_path)
    runner.setup(ToyAlgo(), NoisyWalk())
    paths = runner.obtain_samples(0, 50)
    assert isinstance(paths, list) and paths
    for path in paths:
        assert {'observations', 'actions', 'rewards', 'env_infos', 'agent_infos',
                'dones'} <= set(path)
        n = len(path['rewards'])
        assert len(path['observations']) == len(path['actions']) == len(path['dones']) == n
        assert (path['next_observations'][:-1] == path['observations'][1:]).all()
        assert path['agent_infos']['p'].shape == (n,)
        assert not path['dones'][:-1].any()
    assert sum(len(p['rewards']) for p in paths) >= 50
    assert runner.total_env_steps == sum(len(p['rewards']) for p in paths)


def test_obtain_samples_and_obtain_episodes_give_the_same_steps(tmp_path):
    runner = make_runner(tmp_path)
    runner.setup(ToyAlgo(), NoisyWalk())
    episodes = runner.obtain_episodes(0, 30)
    paths = episodes.to_list()
    assert [len(p['rewards']) for p in paths] == list(episodes.lengths)
    assert [p['rewards'].sum() for p in paths] == list(episodes.undiscounted_returns())
    assert [bool(p['dones'][-1]) for p in paths] == \
        [bool(episodes.terminals[s][-1]) for s in episodes.episode_slices()]


class LengthAlgo(ToyAlgo):
    def __init__(self, **lengths):
        super().__init__()
        for name, value in lengths.items():
            setattr(self, name, value)


@pytest.mark.parametrize('lengths, limit, expected', [
    ({'max_path_length': 3}, 500, 3),                 # garage 2020.06's name
    ({'max_episode_length': 4, 'max_path_length': 3}, 500, 4),
    ({'max_episode_length': None, 'max_path_length': 2}, 500, 2),
    ({}, 5, 5),                                       # the environment's time limit
])
def test_episode_length_comes_from_the_algorithm_then_the_environment(
        tmp_path, lengths, limit, expected):
    """Issue 12: an algorithm's ``max_path_length`` used to be ignored (500-step
    CartPole episodes for ``max_path_length = 100``)."""
    runner = make_runner(tmp_path)
    runner.setup(LengthAlgo(**lengths), NoisyWalk(max_steps=limit))
    episodes = runner.obtain_episodes(0, 200)
    assert episodes.lengths.max() <= expected
    assert expected in episodes.lengths  # NoisyWalk rarely terminates that early


def test_no_episode_length_anywhere_fails_in_setup_naming_all_three(tmp_path):
    """garage raised ValueError here (make_sampler: "the algorithm must have a
    `max_path_length` field"); without it, sampling could loop forever."""
    env = NoisyWalk()
    env.spec = None
    with pytest.raises(ValueError) as error:
        make_runner(tmp_path).setup(ToyAlgo(), env)
    for name in ('max_episode_length', 'max_path_length', 'time limit'):
        assert name in str(error.value)


@pytest.mark.parametrize('break_it, message', [
    (lambda algo: setattr(algo, 'policy', None), 'no policy'),
    (lambda algo: setattr(algo, 'policy', object()), 'get_action'),
    (lambda algo: setattr(algo, 'max_path_length', 0), 'positive int'),
])
def test_setup_checks_the_algorithm_at_once(tmp_path, break_it, message):
    """Issue 12: ``policy=None`` failed only at the first sample, with an
    AttributeError. garage's make_sampler checked for a policy in setup."""
    algo = ToyAlgo()
    break_it(algo)
    with pytest.raises(ConfigError, match=message):
        make_runner(tmp_path).setup(algo, NoisyWalk())


def test_setup_needs_an_algorithm_with_train_and_an_environment(tmp_path):
    with pytest.raises(ConfigError, match='train'):
        make_runner(tmp_path).setup(None, NoisyWalk())
    with pytest.raises(ConfigError, match='reset'):
        make_runner(tmp_path).setup(ToyAlgo(), None)


@pytest.mark.filterwarnings('ignore::repro.log.LoggerWarning')
@pytest.mark.filterwarnings('ignore::repro.log.TabularInputWarning')
def test_store_paths_is_garage_2020_06s_name_of_store_episodes(tmp_path):
    """garage 2020.06: ``train(..., store_paths=False)``,
    ``resume(..., store_paths=None)`` and ``TrainArgs.store_paths``."""
    runner = make_runner(tmp_path, mode='last')
    runner.setup(ToyAlgo(), NoisyWalk())
    with pytest.warns(DeprecationWarning, match='store_episodes'):
        runner.train(n_epochs=1, batch_size=10, store_paths=False)
    saved = runner.restore(str(tmp_path))
    assert saved.store_paths is False and saved.store_episodes is False
    with pytest.warns(DeprecationWarning, match='store_episodes'):
        runner.resume(n_epochs=2, store_paths=True)
    assert runner._train_args.store_paths is True
    snapshot = Snapshotter(str(tmp_path)).load(str(tmp_path))
    assert snapshot['train_args'].store_episodes is True
    with pytest.raises(ConfigError, match='not both'):
        runner.resume(store_paths=True, store_episodes=True)


def test_trainer_and_local_runner_import_from_the_top_level():
    """garage 2021.03: ``from garage import Trainer``; 2020.06:
    ``from garage.experiment import LocalRunner``."""
    from repro import LocalRunner as TopRunner
    from repro import Trainer as TopTrainer
    assert TopTrainer is TopRunner is LocalRunner
