"""Test helpers that are not fixtures: tiny environments and algorithms.

The toy environment follows the gymnasium API without importing gymnasium,
so the library's own tests also run where only numpy is installed.
"""
import csv
import hashlib
import os
import subprocess
import time
import types

import numpy as np

from repro import tabular
# The generators are seeded at construction too (workers reseed them at the
# first reset), so two runs with one seed give byte-identical snapshots.
class Discrete:
    def __init__(self, n):
        self.n = n
        self.np_random = np.random.default_rng(0)

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
    """1-D random walk: reward = -|x|; terminates outside [-3, 3].

    ``spec.max_episode_steps`` is its time limit, as ``gymnasium.make`` sets it.
    """

    def __init__(self, max_steps=20):
        self.spec = types.SimpleNamespace(max_episode_steps=max_steps)
        self.action_space = Discrete(2)
        self.observation_space = Box((1,))
        self.max_steps = max_steps
        self._rng = np.random.default_rng(0)
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


def example_manifest():
    return {
        'format': 1, 'run_id': '20261124-021000-cartpole_vpg-s0-3fa2', 'status': 'succeeded',
        'start_time': '2026-11-24T02:10:00+00:00', 'end_time': '2026-11-24T02:11:00+00:00',
        'command': ['repro', 'run', 'examples/cartpole_vpg.py', '--seed', '0'],
        'replay': ['repro', 'replay', '20261124-021000-cartpole_vpg-s0-3fa2'],
        'seed': 0, 'args': [], 'launcher': 'examples/cartpole_vpg.py',
        'git': {'commit': 'a' * 40, 'branch': 'main', 'remote': None, 'dirty': False,
                'tree': 'b' * 40, 'diff_sha256': 'c' * 64},
        'lock': {'path': 'requirements.lock', 'sha256': 'd' * 64},
        'image': {'id': 'sha256:' + 'e' * 64, 'key': 'f' * 64, 'base': 'repro-base:bookworm',
                  'base_digest': 'sha256:' + '1' * 64, 'dockerfile_sha256': '2' * 64},
        'determinism': {'deterministic': True}, 'host': {'os': 'Linux'},
        'repro_version': '0.1.0',
        'artifacts': [{'path': 'progress.csv', 'size': 3, 'sha256': '3' * 64}],
    }


def make_run(root):
    """A finished run with three files and a source diff, made without Docker."""
    from repro.store.manifest import artifacts
    from repro.store.runs import RunStore
    store = RunStore(root)
    run_id = store.create_run('train.py', 0)
    run_dir = store.run_dir(run_id)
    files = {'outputs/progress.csv': b'Epoch,Loss\n0,0.5\n1,0.25\n',
             'outputs/params.pkl': bytes(range(256)) * 4,
             'logs/stdout.log': b'hello\n', 'meta/source.diff': b'diff --git a/x b/x\n'}
    for rel, data in files.items():
        os.makedirs(os.path.dirname(os.path.join(run_dir, rel)), exist_ok=True)
        with open(os.path.join(run_dir, rel), 'wb') as f:
            f.write(data)
    manifest = example_manifest()
    manifest.update(run_id=run_id, artifacts=artifacts(run_dir))
    manifest['git']['diff_sha256'] = hashlib.sha256(files['meta/source.diff']).hexdigest()
    store.write_manifest(run_id, manifest)
    return store, run_id


def one_line_error(result, *needles):
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and 'Traceback' not in result.stderr, result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def git(cwd, *args):
    return subprocess.run(['git', '-C', str(cwd), *args], check=True, capture_output=True,
                          text=True).stdout


def make_keys(directory, passphrase=None):
    """(private key path, public key path), as `repro key generate` writes them."""
    from repro.audit.keys import generate
    return generate(str(directory), passphrase.encode() if passphrase else None)


def signed_run(root, key_dir):
    """A synthetic run (:func:`make_run`) signed with a new key:
    (store, run id, private key path, public key path)."""
    from repro.audit.attestation import sign_run
    from repro.audit.keys import load_private
    store, run_id = make_run(root)
    private, public = make_keys(key_dir)
    sign_run(store, run_id, load_private(private))
    return store, run_id, private, public


def wait_for(condition, what, timeout, every=0.5):
    """The first truthy value of ``condition()``, asked every ``every`` seconds;
    an AssertionError naming ``what`` once ``timeout`` seconds have passed."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(every)
    raise AssertionError(f'timed out waiting for {what}')
