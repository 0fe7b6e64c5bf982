"""Samplers: the interface and the in-process implementation."""
import abc
import copy

from repro.sampler.episode import EpisodeBatch


class Sampler(abc.ABC):
    """Collects episodes from workers built by a :class:`WorkerFactory`."""

    def __init__(self, agents, envs, *, worker_factory):
        self._factory = worker_factory

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

    def __init__(self, agents, envs, *, worker_factory):
        super().__init__(agents, envs, worker_factory=worker_factory)
        self._workers = worker_factory.make_workers(agents, envs)

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
                worker.update_env(copy.deepcopy(env_update))
            batches.append(worker.collect(per_worker))
        return EpisodeBatch.concatenate(*batches)
