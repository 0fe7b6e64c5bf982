#!/usr/bin/env python3
"""Cross-entropy method on CartPole-v1 with a linear policy: numpy only.

Runs in seconds and needs no torch, so it shows the library on its own:

    python examples/cartpole_cem.py --seed 0 [--n-epochs 10]
"""
import gymnasium as gym
import numpy as np

from repro import tabular, wrap_experiment
from repro.experiment import LocalRunner, deterministic
from repro.experiment.launcher import launcher_kwargs


class LinearPolicy:
    """Deterministic: the action with the largest ``obs @ W + b``."""

    def __init__(self, params, obs_dim, n_actions):
        self.params = np.asarray(params, dtype=np.float64)
        self._shape = (obs_dim + 1, n_actions)

    def get_action(self, obs):
        weights = self.params.reshape(self._shape)
        logits = np.asarray(obs, dtype=np.float64) @ weights[:-1] + weights[-1]
        return int(np.argmax(logits)), {}


class CEM:
    """Cross-entropy method over the policy's parameters.

    Each epoch draws ``n_samples`` parameter vectors from a diagonal
    Gaussian (numpy's global generator, seeded and snapshotted by repro),
    scores each on a batch of episodes and refits the Gaussian to the best
    ``elite_frac`` of them.
    """

    def __init__(self, obs_dim, n_actions, n_samples=20, elite_frac=0.2,
                 init_std=1.0, extra_std=0.1):
        self._obs_dim, self._n_actions = obs_dim, n_actions
        self.mean = np.zeros((obs_dim + 1) * n_actions)
        self.std = np.full_like(self.mean, init_std)
        self.n_samples = n_samples
        self.n_elite = max(1, int(round(n_samples * elite_frac)))
        self.extra_std = extra_std
        self.policy = self._make_policy(self.mean)

    def _make_policy(self, params):
        return LinearPolicy(params, self._obs_dim, self._n_actions)

    def train(self, runner):
        last_return = None
        for _ in runner.step_epochs():
            noise = np.random.standard_normal((self.n_samples, self.mean.size))
            candidates = self.mean + noise * (self.std + self.extra_std)
            scores = np.array([
                runner.obtain_episodes(runner.step_itr,
                                       agent_update=self._make_policy(c))
                .undiscounted_returns().mean()
                for c in candidates])
            elite = candidates[np.argsort(scores)[-self.n_elite:]]
            self.mean, self.std = elite.mean(axis=0), elite.std(axis=0)
            self.policy = self._make_policy(self.mean)
            last_return = float(scores.mean())
            tabular.record('AverageReturn', last_return)
            tabular.record('MaxReturn', float(scores.max()))
            tabular.record('EliteAverageReturn', float(np.sort(scores)[-self.n_elite:].mean()))
            tabular.record('ParamStd', float(self.std.mean()))
            runner.step_itr += 1
        return last_return


@wrap_experiment(name_parameters='passed')
def cartpole_cem(ctxt=None, seed=0, n_epochs=10, batch_size=500, n_samples=20):
    """Train CEM on CartPole-v1."""
    deterministic.set_seed(seed)
    runner = LocalRunner(snapshot_config=ctxt)
    env = gym.make('CartPole-v1')
    algo = CEM(env.observation_space.shape[0], env.action_space.n, n_samples=n_samples)
    runner.setup(algo=algo, env=env)
    return runner.train(n_epochs=n_epochs, batch_size=batch_size)


def main(argv=None):
    return cartpole_cem(**launcher_kwargs(__doc__.splitlines()[0], argv))


if __name__ == '__main__':
    main()
