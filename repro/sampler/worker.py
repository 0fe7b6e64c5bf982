"""Workers: each owns an environment copy, a seed and its own RNG streams.

Worker ``i`` is seeded from the experiment seed (``derive_seed(seed, i)``),
seeds its environment and action space at the first reset, and draws every
random number (policy sampling included) from its own saved generator state.
So a batch does not depend on which process ran the worker, and a snapshot of
the worker continues exactly.
"""
import copy
import math

from repro.errors import ConfigError
from repro.experiment import deterministic
from repro.experiment.canonical import canonicalize
from repro.sampler.episode import EpisodeBatch


class DefaultWorker:
    """Runs complete episodes of an agent in a gymnasium environment.

    Args:
        seed (int): the experiment seed.
        max_episode_length (int or None): cut episodes at this many steps
            (the environment's own time limit applies as well).
        worker_number (int): this worker's index.
    """

    def __init__(self, *, seed, max_episode_length=None, worker_number=0):
        self.worker_number = worker_number
        self.seed = deterministic.derive_seed(seed, worker_number)
        self.max_episode_length = max_episode_length
        self.agent = None
        self.env = None
        self._env_seeded = False
        self._env_generation = 0
        self._rng = deterministic.seeded_rng_state(self.seed)

    def update_agent(self, agent):
        self.agent = agent

    def update_env(self, env):
        """Replace the environment; it is seeded at its first reset.

        The first environment gets the worker's seed; each replacement gets a
        new seed derived from it, so updated environments do not replay the
        same episodes.
        """
        self.env = env
        self._env_seeded = False
        self._env_generation += 1

    @property
    def env_seed(self):
        if self._env_generation <= 1:
            return self.seed
        return deterministic.derive_seed(self.seed, self._env_generation)

    def collect(self, num_steps):
        """Whole episodes until at least ``num_steps`` steps are gathered."""
        episodes, steps = [], 0
        with deterministic.isolated_rng(self._rng) as scope:
            while steps < num_steps or not episodes:
                episode = self.rollout()
                episodes.append(episode)
                steps += episode.n_steps
        self._rng = scope.state
        return EpisodeBatch.concatenate(*episodes)

    def _reset(self):
        if self._env_seeded:
            return self.env.reset()
        self._env_seeded = True
        seed = self.env_seed
        for space in (self.env.action_space, self.env.observation_space):
            space.seed(seed)
        return self.env.reset(seed=seed)

    def rollout(self):
        """One episode; call inside :meth:`collect` for seeded randomness."""
        obs, _ = self._reset()
        if hasattr(self.agent, 'reset'):
            self.agent.reset()
        observations, actions, rewards, terms, timeouts = [], [], [], [], []
        agent_infos, env_infos = [], []
        limit = self.max_episode_length or math.inf
        while True:
            action, info = self.agent.get_action(obs)
            next_obs, reward, terminated, truncated, env_info = self.env.step(action)
            truncated = bool(truncated) or len(rewards) + 1 >= limit
            observations.append(obs)
            actions.append(action)
            rewards.append(reward)
            terms.append(bool(terminated))
            timeouts.append(truncated and not terminated)
            agent_infos.append(info)
            env_infos.append(env_info)
            obs = next_obs
            if terminated or truncated:
                return EpisodeBatch.from_episode(observations, actions, rewards,
                                                 terms, timeouts, obs, agent_infos,
                                                 env_infos)


class WorkerFactory:
    """Builds the workers of a sampler: how many, of what class, how seeded."""

    def __init__(self, *, seed, n_workers=1, worker_class=DefaultWorker,
                 worker_args=None, max_episode_length=None):
        if isinstance(n_workers, bool) or not isinstance(n_workers, int) or n_workers < 1:
            raise ConfigError(f'n_workers must be a positive int, got {n_workers!r}')
        self.seed = seed
        self.n_workers = n_workers
        self.worker_class = worker_class or DefaultWorker
        self.worker_args = dict(worker_args or {})
        self.max_episode_length = max_episode_length

    def steps_per_worker(self, num_samples):
        """Each worker's share of a batch (the same for local and parallel)."""
        return math.ceil(num_samples / self.n_workers)

    def make_workers(self, agent, env):
        """``n_workers`` workers, each with its own copy of ``env``."""
        workers = []
        for i in range(self.n_workers):
            worker = self.worker_class(seed=self.seed,
                                       max_episode_length=self.max_episode_length,
                                       worker_number=i, **self.worker_args)
            worker.update_agent(agent)
            worker.update_env(canonicalize(copy.deepcopy(env)))
            workers.append(worker)
        return workers
