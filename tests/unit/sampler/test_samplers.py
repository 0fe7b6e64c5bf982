import cloudpickle
import numpy as np
import pytest

from repro.core.content import first_difference
from repro.experiment import deterministic
from repro.sampler import (EpisodeBatch, LocalSampler, MultiprocessingSampler,
                           WorkerFactory, WorkerProcessError)
from tests.helpers import NoisyWalk, RandomPolicy


def make(sampler_cls, seed=0, n_workers=2, **kwargs):
    factory = WorkerFactory(seed=seed, n_workers=n_workers)
    return sampler_cls(RandomPolicy(), NoisyWalk(), worker_factory=factory, **kwargs)


def batches_equal(a, b):
    return first_difference(a, b) is None


def test_batch_has_whole_episodes_and_at_least_the_asked_steps():
    sampler = make(LocalSampler, n_workers=3)
    batch = sampler.obtain_samples(0, 100, RandomPolicy())
    assert batch.n_steps >= 100
    assert batch.n_steps == len(batch.rewards) == len(batch.observations)
    for s in batch.episode_slices():
        ends = batch.terminals[s] | batch.timeouts[s]
        assert ends[-1] and not ends[:-1].any()  # each episode ends exactly once
    assert len(batch.last_observations) == batch.n_episodes
    assert batch.agent_infos['p'].shape == (batch.n_steps,)


def test_same_seed_same_batches_different_seed_differs():
    a = [make(LocalSampler, seed=0).obtain_samples(i, 60, None) for i in range(1)]
    b = [make(LocalSampler, seed=0).obtain_samples(i, 60, None) for i in range(1)]
    c = [make(LocalSampler, seed=1).obtain_samples(i, 60, None) for i in range(1)]
    assert batches_equal(a, b)
    assert not batches_equal(a, c)


def test_workers_get_distinct_seeds_and_streams():
    sampler = make(LocalSampler, n_workers=4)
    seeds = [w.seed for w in sampler.workers]
    assert len(set(seeds)) == 4
    firsts = [w.collect(1).observations[0, 0] for w in sampler.workers]
    assert len(set(firsts)) == 4


def test_sampling_does_not_touch_the_global_generators():
    deterministic.set_seed(5)
    expected = np.random.random()
    deterministic.set_seed(5)
    make(LocalSampler).obtain_samples(0, 50, None)
    assert np.random.random() == expected


@pytest.mark.slow
def test_multiprocessing_sampler_gives_the_local_samplers_batches():
    local = make(LocalSampler, n_workers=2)
    parallel = make(MultiprocessingSampler, n_workers=2)
    try:
        for itr in range(3):
            policy = RandomPolicy()
            policy.bias = 0.2 + 0.3 * itr
            a = local.obtain_samples(itr, 50, policy)
            b = parallel.obtain_samples(itr, 50, policy)
            assert batches_equal(a, b), first_difference(a, b)
    finally:
        parallel.shutdown_worker()


@pytest.mark.slow
def test_pickled_multiprocessing_sampler_continues_exactly():
    sampler = make(MultiprocessingSampler)
    try:
        sampler.obtain_samples(0, 40, None)
        blob = cloudpickle.dumps(sampler)  # fetches worker states mid-run
        expected = sampler.obtain_samples(1, 40, None)
    finally:
        sampler.shutdown_worker()
    restored = cloudpickle.loads(blob)
    try:
        assert batches_equal(restored.obtain_samples(1, 40, None), expected)
    finally:
        restored.shutdown_worker()


class FailingPolicy:
    def get_action(self, obs):
        raise ValueError('policy exploded')


@pytest.mark.slow
def test_worker_errors_carry_the_worker_traceback():
    sampler = make(MultiprocessingSampler, n_workers=1)
    try:
        with pytest.raises(WorkerProcessError, match='policy exploded'):
            sampler.obtain_samples(0, 10, FailingPolicy())
    finally:
        sampler.shutdown_worker()


def test_bad_worker_count():
    with pytest.raises(ValueError):
        WorkerFactory(seed=0, n_workers=0)


def test_episode_batch_concatenate_and_returns():
    one = EpisodeBatch.from_episode([[0.0]], [1], [2.0], [True], [False], [1.0], [{}])
    two = EpisodeBatch.from_episode([[0.0], [1.0]], [0, 1], [1.0, 1.5], [False, False],
                                    [False, True], [2.0], [{}, {}])
    both = EpisodeBatch.concatenate(one, two)
    assert both.n_episodes == 2 and both.n_steps == 3
    assert both.undiscounted_returns().tolist() == [2.0, 2.5]


def test_garage_style_construction_uses_the_experiment_seed():
    deterministic.set_seed(4)
    a = LocalSampler(RandomPolicy(), NoisyWalk(), n_workers=2)
    b = make(LocalSampler, seed=4, n_workers=2)
    assert [w.seed for w in a.workers] == [w.seed for w in b.workers]
    with pytest.raises(ValueError, match='either'):
        LocalSampler(RandomPolicy(), NoisyWalk(), worker_factory=WorkerFactory(seed=0),
                     n_workers=2)


def test_env_update_seeds_each_new_environment_differently():
    sampler = make(LocalSampler, n_workers=1)
    starts = [sampler.obtain_samples(i, 1, None, env_update=NoisyWalk()).observations[0, 0]
              for i in range(3)]
    assert len(set(starts)) == 3
    again = make(LocalSampler, n_workers=1)
    assert [again.obtain_samples(i, 1, None, env_update=NoisyWalk()).observations[0, 0]
            for i in range(3)] == starts  # still reproducible
