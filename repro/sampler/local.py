"""Samplers: the interface and the in-process implementation."""
import abc
import copy

from repro.errors import ConfigError
from repro.experiment.canonical import canonicalize
from repro.sampler.episode import EpisodeBatch


def make_worker_factory(worker_factory=None, **worker_options):
    """The given factory, or one built from garage-style sampler arguments
    (``seed``, ``n_workers``, ``max_episode_length``, ``worker_class``,
    ``worker_args``); the seed defaults to the experiment's."""
    if worker_factory is not None:
        if worker_options:
            raise ConfigError('pass either worker_factory or its options, not both: '
                             + ', '.join(sorted(worker_options)))
        return worker_factory
    from repro.experiment import deterministic
    from repro.sampler.worker import WorkerFactory
    if worker_options.get('seed') is None:
        worker_options['seed'] = deterministic.get_seed()
    if worker_options['seed'] is None:
        raise ConfigError('no seed: call deterministic.set_seed() or pass seed=')
    return WorkerFactory(**worker_options)


class Sampler(abc.ABC):
    """Collects episodes from workers built by a :class:`WorkerFactory`."""

    def __init__(self, agents, envs, *, worker_factory=None, **worker_options):
        self._factory = make_worker_factory(worker_factory, **worker_options)

    @property
    def n_workers(self):
        return self._factory.n_workers

    @abc.abstractmethod
    def obtain_samples(self, itr, num_samples, agent_update, env_update=None):
        """At least ``num_samples`` steps of whole episodes, as an EpisodeBatch.

        ``agent_update`` (a policy) and ``env_update`` (an environment, copied
        into each worker) replace what the workers hold before sampling.
        """

    def shutdown_worker(self):
        """Release worker resources (processes); sampling may restart them."""


class LocalSampler(Sampler):
    """Runs the workers one after another in this process.

    Because every worker has its own generator state, a batch is identical to
    the one :class:`MultiprocessingSampler` gives for the same worker count.
    """

    def __init__(self, agents, envs, *, worker_factory=None, **worker_options):
        super().__init__(agents, envs, worker_factory=worker_factory, **worker_options)
        self._workers = self._factory.make_workers(agents, envs)

    @property
    def workers(self):
        return list(self._workers)

    def obtain_samples(self, itr, num_samples, agent_update, env_update=None):
        per_worker = self._factory.steps_per_worker(num_samples)
        batches = []
        for worker in self._workers:
            if agent_update is not None:
                worker.update_agent(agent_update)
            if env_update is not None:
                worker.update_env(canonicalize(copy.deepcopy(env_update)))
            batches.append(worker.collect(per_worker))
        return EpisodeBatch.concatenate(*batches)
