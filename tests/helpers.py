"""Test helpers that are not fixtures: tiny environments and algorithms.

The toy environment follows the gymnasium API without importing gymnasium,
so the library's own tests also run where only numpy is installed.
"""
import csv

import numpy as np

from repro import tabular


class Discrete:
    def __init__(self, n):
        self.n = n
        self.np_random = np.random.default_rng()

    def seed(self, seed):
        self.np_random = np.random.default_rng(seed)

    def sample(self):
        return int(self.np_random.integers(self.n))


class Box:
    def __init__(self, shape):
        self.shape = shape

    def seed(self, seed):
        pass


class NoisyWalk:
    """1-D random walk: reward = -|x|; terminates outside [-3, 3]."""

    spec = None

    def __init__(self, max_steps=20):
        self.action_space = Discrete(2)
        self.observation_space = Box((1,))
        self.max_steps = max_steps
        self._rng = np.random.default_rng()
        self._x = 0.0
        self._t = 0

    def reset(self, seed=None, options=None):
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        self._x = float(self._rng.normal())
        self._t = 0
        return np.array([self._x]), {}

    def step(self, action):
        self._x += (1 if action else -1) * 0.5 + float(self._rng.normal()) * 0.1
        self._t += 1
        terminated = abs(self._x) > 3
        truncated = self._t >= self.max_steps
        return np.array([self._x]), -abs(self._x), terminated, truncated, {}


class RandomPolicy:
    """Acts with numpy's global generator: seeded per worker by repro."""

    def __init__(self):
        self.bias = 0.5

    def get_action(self, obs):
        return int(np.random.random() < self.bias), {'p': self.bias}


class ToyAlgo:
    """Nudges the policy's bias from sampled returns; records metrics."""

    def __init__(self):
        self.policy = RandomPolicy()

    def train(self, runner):
        for epoch in runner.step_epochs():
            episodes = runner.obtain_episodes(runner.step_itr)
            returns = episodes.undiscounted_returns()
            self.policy.bias = float(np.clip(self.policy.bias + np.random.normal() * 0.05,
                                             0.05, 0.95))
            tabular.record('AverageReturn', float(returns.mean()))
            tabular.record('Bias', self.policy.bias)
            tabular.record('NumEpisodes', episodes.n_episodes)
            runner.step_itr += 1
        return self.policy.bias


def read_csv(path):
    with open(path, newline='') as f:
        return list(csv.DictReader(f))
