#!/usr/bin/env python3
"""Vanilla policy gradient (REINFORCE with a GAE baseline) on CartPole-v1.

A launcher in the seed page's style: wrap_experiment for logging and
snapshots, deterministic.set_seed, LocalRunner for the training loop.

    python examples/cartpole_vpg.py --seed 0 [--n-epochs 40]
"""
import itertools

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from repro import tabular, wrap_experiment
from repro.experiment import LocalRunner, deterministic
from repro.experiment.launcher import launcher_kwargs

def mlp(sizes):
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(nn.Tanh())
    return nn.Sequential(*layers)

class CategoricalMLPPolicy(nn.Module):
    """A softmax policy over discrete actions."""
    def __init__(self, obs_dim, n_actions, hidden_sizes=(32, 32)):
        super().__init__()
        self.net = mlp([obs_dim, *hidden_sizes, n_actions])
    def forward(self, observations):
        return torch.distributions.Categorical(logits=self.net(observations))

    def get_action(self, observation):
        """Sample an action; randomness comes from torch's seeded generator."""
        with torch.inference_mode():
            logits = self.net(torch.as_tensor(observation, dtype=torch.float32))
            probs = torch.softmax(logits, -1).tolist()
            u = float(torch.rand(()))
        # Inverse-CDF sampling: the distribution of self(obs).sample() at a
        # fraction of the per-step cost of torch.multinomial, which also
        # allocates scratch memory that deterministic mode fills with NaN.
        cumulative = itertools.accumulate(probs)
        return next((a for a, c in enumerate(cumulative) if u < c), len(probs) - 1), {}

def discounted_cumsum(values, discount):
    out = np.zeros_like(values)
    running = 0.0
    for t in range(len(values) - 1, -1, -1):
        running = values[t] + discount * running
        out[t] = running
    return out

class VPG:
    """Policy gradient with generalised advantage estimation (GAE).
    One policy step per epoch on normalised advantages; the value function,
    trained on discounted returns, is the baseline. Truncated episodes are
    bootstrapped from the value of their last observation.
    """

    def __init__(self, policy, value_function, discount=0.99, gae_lambda=0.97,
                 policy_lr=1e-2, vf_lr=1e-2, vf_iters=10):
        self.policy = policy
        self.value_function = value_function
        self.discount, self.gae_lambda = discount, gae_lambda
        self.vf_iters = vf_iters
        self._policy_optimizer = torch.optim.Adam(policy.parameters(), lr=policy_lr)
        self._vf_optimizer = torch.optim.Adam(value_function.parameters(), lr=vf_lr)
    def train(self, runner):
        last_return = None
        for _ in runner.step_epochs():
            episodes = runner.obtain_episodes(runner.step_itr)
            last_return = self._train_once(episodes)
            runner.step_itr += 1
        return last_return
    def _advantages(self, episodes, obs):
        with torch.no_grad():
            values = self.value_function(obs).squeeze(-1).double().numpy()
            last = torch.as_tensor(episodes.last_observations, dtype=torch.float32)
            last_values = self.value_function(last).squeeze(-1).double().numpy()
        advantages, returns = [], []
        for i, s in enumerate(episodes.episode_slices()):
            rewards = episodes.rewards[s]
            bootstrap = 0.0 if episodes.terminals[s][-1] else last_values[i]
            next_values = np.append(values[s][1:], bootstrap)
            deltas = rewards + self.discount * next_values - values[s]
            advantages.append(discounted_cumsum(deltas, self.discount * self.gae_lambda))
            returns.append(discounted_cumsum(np.append(rewards, bootstrap),
                                             self.discount)[:-1])
        return np.concatenate(advantages), np.concatenate(returns)
    def _train_once(self, episodes):
        obs = torch.as_tensor(episodes.observations, dtype=torch.float32)
        actions = torch.as_tensor(episodes.actions)
        advantages, returns = self._advantages(episodes, obs)
        advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
        advantages = torch.as_tensor(advantages, dtype=torch.float32)
        returns = torch.as_tensor(returns, dtype=torch.float32)
        dist = self.policy(obs)
        policy_loss = -(dist.log_prob(actions) * advantages).mean()
        self._policy_optimizer.zero_grad()
        policy_loss.backward()
        self._policy_optimizer.step()
        for _ in range(self.vf_iters):
            vf_loss = ((self.value_function(obs).squeeze(-1) - returns) ** 2).mean()
            self._vf_optimizer.zero_grad()
            vf_loss.backward()
            self._vf_optimizer.step()
        episode_returns = episodes.undiscounted_returns()
        tabular.record('AverageReturn', float(episode_returns.mean()))
        tabular.record('MaxReturn', float(episode_returns.max()))
        tabular.record('MinReturn', float(episode_returns.min()))
        tabular.record('NumEpisodes', episodes.n_episodes)
        tabular.record('PolicyLoss', policy_loss.item())
        tabular.record('ValueLoss', vf_loss.item())
        tabular.record('Entropy', dist.entropy().mean().item())
        return float(episode_returns.mean())

@wrap_experiment(name_parameters='passed')
def cartpole_vpg(ctxt=None, seed=0, n_epochs=40, batch_size=4000):
    """Train VPG on CartPole-v1."""
    deterministic.set_seed(seed)
    runner = LocalRunner(snapshot_config=ctxt)
    env = gym.make('CartPole-v1')
    obs_dim, n_actions = env.observation_space.shape[0], env.action_space.n
    policy = CategoricalMLPPolicy(obs_dim, n_actions)
    value_function = mlp([obs_dim, 32, 32, 1])
    algo = VPG(policy, value_function)
    runner.setup(algo=algo, env=env)
    return runner.train(n_epochs=n_epochs, batch_size=batch_size)

def main(argv=None):
    return cartpole_vpg(**launcher_kwargs(__doc__.splitlines()[0], argv))

if __name__ == '__main__':
    main()
