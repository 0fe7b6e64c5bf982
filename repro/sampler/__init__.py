"""Samplers and workers over gymnasium environments."""
from repro.sampler.episode import EpisodeBatch
from repro.sampler.local import LocalSampler, Sampler
from repro.sampler.parallel import MultiprocessingSampler, WorkerProcessError
from repro.sampler.worker import DefaultWorker, WorkerFactory

__all__ = ['EpisodeBatch', 'Sampler', 'LocalSampler', 'MultiprocessingSampler',
           'WorkerProcessError', 'DefaultWorker', 'WorkerFactory']
