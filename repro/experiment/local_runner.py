"""LocalRunner: setup / train / save / restore / resume, as in garage.

Unlike garage, a snapshot also carries every random generator's state (the
process's and each sampler worker's, environments included), so training 10
epochs and training 5, restoring and resuming to 10 give identical results.
Each epoch dumps its logs and then saves its snapshot, which records what
the appended logs hold: when an earlier attempt's outputs are mounted
(:mod:`repro.experiment.resume`), ``train`` continues from its last snapshot,
and the final ``progress.csv`` and snapshot are an uninterrupted run's.
"""
import dataclasses
import secrets
import time
import warnings

import cloudpickle

import repro
from repro.errors import ConfigError, NotSetupError
from repro.experiment import canonical, deterministic, resume, stopping
from repro.experiment.snapshotter import Snapshotter
from repro.log import logger, tabular


@dataclasses.dataclass
class ExperimentStats:
    total_itr: int = 0
    total_env_steps: int = 0
    total_epoch: int = 0
    last_episode: object = None

    @property
    def last_path(self):  # garage 2020.06's name
        return self.last_episode


@dataclasses.dataclass
class TrainArgs:
    n_epochs: int
    batch_size: int = None
    plot: bool = False
    store_episodes: bool = False
    pause_for_plot: bool = False
    start_epoch: int = 0

    @property
    def store_paths(self):  # garage 2020.06's name
        return self.store_episodes

    @store_paths.setter
    def store_paths(self, value):
        self.store_episodes = value


def _store_episodes(store_episodes, store_paths):
    """``store_paths`` (garage 2020.06) as an alias of ``store_episodes``."""
    if store_paths is None:
        return store_episodes
    if store_episodes is not None:
        raise ConfigError('pass store_episodes or store_paths (its old name), not both')
    warnings.warn('store_paths is garage 2020.06\'s name; use store_episodes',
                  DeprecationWarning, stacklevel=3)
    return store_paths


def episode_length(algo, env):
    """The longest episode the sampler may collect.

    ``algo.max_episode_length``, else ``algo.max_path_length`` (garage
    2020.06's name), else the environment's time limit
    (``env.spec.max_episode_steps``, gymnasium's). The environment's own
    limit applies as well. With none of them an episode might never end.
    """
    for owner, name in ((algo, 'max_episode_length'), (algo, 'max_path_length'),
                        (getattr(env, 'spec', None), 'max_episode_steps')):
        length = getattr(owner, name, None)
        if length is None:
            continue
        if isinstance(length, bool) or not isinstance(length, int) or length < 1:
            raise ConfigError(f'{name} must be a positive int, got {length!r}')
        return length
    raise ConfigError('no episode length: set algo.max_episode_length or '
                      'algo.max_path_length, or give the environment a time limit '
                      '(env.spec.max_episode_steps, e.g. gymnasium.make(..., '
                      'max_episode_steps=N))')


def algo_policy(algo):
    """The policy the sampler runs: the exploration policy, else the policy."""
    return getattr(algo, 'exploration_policy', None) or getattr(algo, 'policy', None)


def check_setup(algo, env, worker_class):
    """Fail in setup, not at the first sample, for what cannot be trained."""
    from repro.sampler import DefaultWorker
    if not callable(getattr(algo, 'train', None)):
        raise ConfigError(f'the algorithm ({type(algo).__name__}) needs a train(runner) method')
    if not (callable(getattr(env, 'reset', None)) and callable(getattr(env, 'step', None))):
        raise ConfigError(f'the environment ({type(env).__name__}) needs reset() and '
                          'step(action), as a gymnasium environment has')
    episode_length(algo, env)
    policy = algo_policy(algo)
    if policy is None:
        raise ConfigError(f'the algorithm ({type(algo).__name__}) has no policy: '
                          'set algo.policy (or algo.exploration_policy)')
    if issubclass(worker_class, DefaultWorker) and not callable(
            getattr(policy, 'get_action', None)):
        raise ConfigError(f'the policy ({type(policy).__name__}) needs a '
                          'get_action(observation) method')


@dataclasses.dataclass
class SetupArgs:
    sampler_cls: type
    sampler_args: dict
    seed: int
    determinism: dict


class LocalRunner:
    """Runs an algorithm's training loop with sampling, logging and snapshots.

    Args:
        snapshot_config: the ``ctxt`` of a wrap_experiment function (anything
            with ``snapshot_dir``, ``snapshot_mode`` and ``snapshot_gap``).
        max_cpus (int): kept for garage compatibility; use ``n_workers``.
    """

    def __init__(self, snapshot_config, max_cpus=1):
        if snapshot_config is None:
            raise ConfigError('LocalRunner needs the ctxt of a wrap_experiment function')
        self._snapshotter = Snapshotter(snapshot_config.snapshot_dir,
                                        snapshot_config.snapshot_mode,
                                        snapshot_config.snapshot_gap)
        self._has_setup = False
        self._setup_args = None
        self._train_args = None
        self._stats = ExperimentStats()
        self._start_epoch = 0
        self._algo = self._env = self._sampler = None
        self._n_workers = 1
        self._worker_class = self._worker_args = None
        self._start_time = self._itr_start_time = None
        self.step_itr = None
        self.step_episode = None
        self.enable_logging = True

    # -- setup -------------------------------------------------------------
    def setup(self, algo, env, sampler_cls=None, sampler_args=None, n_workers=1,
              worker_class=None, worker_args=None):
        """Set the algorithm and environment and build the sampler.

        Checks at once what training needs (:func:`check_setup`): an
        algorithm with ``train`` and a policy, an environment, an episode
        length; a ConfigError (a ValueError) says what is missing.

        The sampler's workers are seeded from the seed given to
        ``deterministic.set_seed``; without one, a fresh seed is drawn, logged
        and stored in snapshots so the run can still be repeated.
        """
        from repro.sampler import DefaultWorker
        check_setup(algo, env, worker_class or getattr(algo, 'worker_cls', DefaultWorker))
        seed = deterministic.get_seed()
        if seed is None:
            seed = secrets.randbits(32)
            logger.log(f'WARNING: deterministic.set_seed() was not called; '
                       f'sampler workers are seeded with {seed}')
        self._setup(algo, env, sampler_cls, sampler_args, n_workers, worker_class,
                    worker_args, seed, deterministic.get_determinism_record())

    def _setup(self, algo, env, sampler_cls, sampler_args, n_workers, worker_class,
               worker_args, seed, determinism, sampler=None):
        from repro.sampler import DefaultWorker, LocalSampler, WorkerFactory
        self._algo, self._env = algo, env
        self._n_workers = n_workers
        self._worker_class = worker_class or getattr(algo, 'worker_cls', DefaultWorker)
        self._worker_args = dict(worker_args or {})
        sampler_cls = sampler_cls or getattr(algo, 'sampler_cls', None) or LocalSampler
        sampler_args = dict(sampler_args or {})
        if sampler is None:
            factory = WorkerFactory(seed=seed, n_workers=n_workers,
                                    worker_class=self._worker_class,
                                    worker_args=self._worker_args,
                                    max_episode_length=episode_length(algo, env))
            sampler = sampler_cls(self._policy(), env, worker_factory=factory,
                                  **sampler_args)
        self._sampler = sampler
        self._setup_args = SetupArgs(sampler_cls, sampler_args, seed, determinism)
        self._has_setup = True

    def _policy(self):
        return algo_policy(self._algo)

    # -- training ----------------------------------------------------------
    def train(self, n_epochs, batch_size=None, plot=False, store_episodes=None,
              pause_for_plot=False, *, store_paths=None):
        """Run ``algo.train(self)`` for ``n_epochs``; returns what it returns.

        ``store_paths`` is garage 2020.06's name of ``store_episodes``. When
        an earlier attempt of this experiment is mounted (``repro sweep
        resume``, a requeued Slurm task), it continues from that attempt's
        last snapshot instead of epoch 0 (:mod:`repro.experiment.resume`).
        """
        store_episodes = bool(_store_episodes(store_episodes, store_paths))
        if not self._has_setup:
            raise NotSetupError('Use setup() to set up the runner before training.')
        saved = resume.continue_earlier(self._snapshotter.snapshot_dir)
        if saved is not None:
            self._sampler.shutdown_worker()  # setup()'s: the snapshot's replaces it
            self._restore_saved(saved)
            return self.resume(n_epochs=n_epochs, batch_size=batch_size, plot=plot,
                               store_episodes=store_episodes, pause_for_plot=pause_for_plot)
        self._start_epoch = 0
        self._train_args = TrainArgs(n_epochs=n_epochs, batch_size=batch_size, plot=plot,
                                     store_episodes=store_episodes,
                                     pause_for_plot=pause_for_plot, start_epoch=0)
        return self._run_algo()

    def resume(self, n_epochs=None, batch_size=None, plot=None, store_episodes=None,
               pause_for_plot=None, *, store_paths=None):
        """Continue after :meth:`restore`, optionally with more epochs.

        ``store_paths`` is garage 2020.06's name of ``store_episodes``.
        """
        store_episodes = _store_episodes(store_episodes, store_paths)
        if self._train_args is None:
            raise NotSetupError('You must call restore() before resume().')
        args = self._train_args
        args.n_epochs = n_epochs or args.n_epochs
        args.batch_size = batch_size or args.batch_size
        for name, value in (('plot', plot), ('store_episodes', store_episodes),
                            ('pause_for_plot', pause_for_plot)):
            if value is not None:
                setattr(args, name, value)
        return self._run_algo()

    def _run_algo(self):
        if self._train_args.plot or self._train_args.pause_for_plot:
            logger.log('WARNING: live plotting is not supported; '
                       'watch the TensorBoard events in the log directory instead')
        try:
            return self._algo.train(self)
        finally:
            try:
                self._sampler.shutdown_worker()
            finally:
                self._snapshotter.wait()

    def step_epochs(self):
        """Yield each epoch number; after each, dump the logs and save a snapshot.

        In that order, and SIGTERM waits for both (:mod:`repro.experiment.stopping`):
        a snapshot records what the logs held once its epoch was dumped, so
        a resume can cut them back to it whenever the run was stopped.
        """
        self._start_time = time.time()
        self.step_itr = self._stats.total_itr
        self.step_episode = None
        logger.log('Obtaining samples...')
        for epoch in range(self._start_epoch, self._train_args.n_epochs):
            self._itr_start_time = time.time()
            with logger.prefix(f'epoch #{epoch} | '):
                yield epoch
                with stopping.deferred():
                    self._stats.last_episode = (self.step_episode
                                                if self._train_args.store_episodes else None)
                    self._stats.total_epoch = epoch
                    self._stats.total_itr = self.step_itr
                    if self.enable_logging:
                        self.log_diagnostics(epoch)
                        logger.dump_all(self.step_itr)
                        tabular.clear()
                    self.save(epoch)

    def log_diagnostics(self, epoch, pause_for_plot=False):
        """Timing to the text logs; only deterministic values to tabular."""
        logger.log(f'Time {time.time() - self._start_time:.2f} s')
        logger.log(f'EpochTime {time.time() - self._itr_start_time:.2f} s')
        tabular.record('Epoch', epoch)
        tabular.record('TotalEnvSteps', self._stats.total_env_steps)
        logger.log(tabular)

    @property
    def step_path(self):  # garage's older name
        return self.step_episode

    @step_path.setter
    def step_path(self, value):
        self.step_episode = value

    def obtain_episodes(self, itr, batch_size=None, agent_update=None, env_update=None):
        """Sample at least ``batch_size`` steps of whole episodes."""
        if self._sampler is None:
            raise NotSetupError('No sampler: call setup() first.')
        batch_size = batch_size or (self._train_args and self._train_args.batch_size)
        if not batch_size:
            raise ConfigError('obtain_episodes needs a batch_size (none was given to train())')
        if agent_update is None:
            agent_update = self._policy()
        episodes = self._sampler.obtain_samples(itr, batch_size, agent_update, env_update)
        self._stats.total_env_steps += episodes.n_steps
        return episodes

    def obtain_samples(self, itr, batch_size=None, agent_update=None, env_update=None):
        """garage 2020.06's call: :meth:`obtain_episodes` as a list of path dicts.

        Each dict has ``observations``, ``next_observations``, ``actions``,
        ``rewards``, ``env_infos``, ``agent_infos`` and ``dones``.
        """
        return self.obtain_episodes(itr, batch_size, agent_update, env_update).to_list()

    # -- snapshots ---------------------------------------------------------
    def _snapshot(self):
        return {
            'repro_version': repro.__version__,
            'setup_args': self._setup_args,
            'train_args': self._train_args,
            'stats': self._stats,
            'env': self._env,
            'algo': self._algo,
            'n_workers': self._n_workers,
            'worker_class': self._worker_class,
            'worker_args': self._worker_args,
            'sampler': self._sampler,
            'rng': deterministic.get_rng_state(),
            resume.STATE_KEY: resume.outputs_state(self._snapshotter.snapshot_dir),
        }

    def save(self, epoch):
        """Snapshot everything needed to continue exactly after ``epoch``."""
        if not self._has_setup:
            raise NotSetupError('Use setup() to set up the runner before saving.')
        logger.log('Saving snapshot...')
        self._snapshotter.save_itr_params(epoch, self._snapshot())
        logger.log('Saved')

    def restore(self, from_dir, from_epoch='last'):
        """Load a snapshot: algorithm, environment, sampler and RNG streams.

        Returns the saved train arguments, ``start_epoch`` set to the epoch
        after the snapshot's.
        """
        self._restore_saved(self._snapshotter.load(from_dir, from_epoch))
        logger.log(f'Restored from {from_dir} (epoch {self._stats.total_epoch}, '
                   f'{self._stats.total_env_steps} env steps, '
                   f'seed {self._setup_args.seed})')
        return dataclasses.replace(self._train_args, start_epoch=self._start_epoch)

    def _restore_saved(self, saved):
        """Take the loaded snapshot's objects as they are (the saved train and
        setup arguments too, unchanged), so its next save pickles the same
        objects an uninterrupted run would (:mod:`repro.experiment.canonical`)."""
        canonical.canonicalize(saved)
        setup = saved['setup_args']
        deterministic.set_seed(setup.seed,
                               deterministic=setup.determinism.get('deterministic', True))
        self._stats = saved['stats']
        self._train_args = saved['train_args']
        self._start_epoch = self._stats.total_epoch + 1
        self._setup(saved['algo'], saved['env'], setup.sampler_cls, setup.sampler_args,
                    saved['n_workers'], saved['worker_class'], saved['worker_args'],
                    setup.seed, setup.determinism, sampler=saved['sampler'])
        self._setup_args = setup
        deterministic.set_rng_state(saved['rng'])

    def get_env_copy(self):
        return cloudpickle.loads(cloudpickle.dumps(self._env))

    @property
    def total_env_steps(self):
        return self._stats.total_env_steps

    @total_env_steps.setter
    def total_env_steps(self, value):
        self._stats.total_env_steps = value


Trainer = LocalRunner
