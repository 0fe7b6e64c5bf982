#!/usr/bin/env python3
"""Benchmarks of the experiment library (issue #2), measured side by side.

    python bench/library.py [--reps 3] [--epochs 6]

(``python bench/all.py`` runs every benchmark and writes docs/BENCHMARKS.md;
the snapshot cost is bench/snapshot.py.)

1. Determinism cost: the VPG example's training time with deterministic
   kernels on / off (goal <= 1.05 on CPU). After a warm-up run, runs go in
   on-off-off-on blocks so drift in machine speed and warm-up hit both modes
   equally; the figure is the ratio of the medians.
2. Learning: seconds of training until the VPG example's AverageReturn first
   reaches 150 with its default settings (goal <= 60 s on 2 CPU cores).
"""
import argparse
import contextlib
import importlib.util
import io
import statistics
import sys
import tempfile
import time
import types

from common import ROOT, table

from repro.experiment import LocalRunner, deterministic
from repro.log import LogOutput, TabularInput, logger

NO_ARCHIVE = {'archive_launch_repo': False}


def load_vpg():
    spec = importlib.util.spec_from_file_location('cartpole_vpg', ROOT / 'examples/cartpole_vpg.py')
    module = importlib.util.module_from_spec(spec)
    sys.modules['cartpole_vpg'] = module
    spec.loader.exec_module(module)
    return module


class ReturnTimer(LogOutput):
    """Notes the training time at each epoch's dump, with its AverageReturn."""

    types_accepted = (TabularInput,)

    def __init__(self):
        self.start = time.perf_counter()
        self.points = []
        self._last = None

    def record(self, data, prefix=''):
        self._last = data.as_primitive_dict.get('AverageReturn')

    def dump(self, step=None):
        if self._last is not None:
            self.points.append((time.perf_counter() - self.start, self._last))
            self._last = None


def train_seconds(vpg, deterministic_on, n_epochs, log_root):
    """Wall time of one example run with the flag forced on or off."""
    real = deterministic.set_seed
    vpg.deterministic = types.SimpleNamespace(
        set_seed=lambda seed: real(seed, deterministic=deterministic_on))
    try:
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            vpg.cartpole_vpg(dict(NO_ARCHIVE, log_dir=tempfile.mkdtemp(dir=log_root)),
                             seed=0, n_epochs=n_epochs)
        return time.perf_counter() - start
    finally:
        vpg.deterministic = deterministic


def bench_determinism(vpg, reps, n_epochs, log_root):
    """Median time per mode over ``reps`` on-off-off-on blocks, after a warm-up.

    The first run in a process pays for imports and allocator warm-up; an
    unbalanced order would charge that to whichever mode runs first.
    """
    train_seconds(vpg, True, 1, log_root)
    times = {True: [], False: []}
    for _ in range(reps):
        for flag in (True, False, False, True):
            times[flag].append(train_seconds(vpg, flag, n_epochs, log_root))
    on, off = statistics.median(times[True]), statistics.median(times[False])
    return on, off, on / off


def vpg_snapshot(vpg, log_root):
    import gymnasium as gym
    deterministic.set_seed(0)
    ctxt = types.SimpleNamespace(snapshot_dir=tempfile.mkdtemp(dir=log_root),
                                 snapshot_mode='last', snapshot_gap=1)
    runner = LocalRunner(ctxt)
    env = gym.make('CartPole-v1')
    policy = vpg.CategoricalMLPPolicy(4, 2)
    algo = vpg.VPG(policy, vpg.mlp([4, 32, 32, 1]))
    runner.setup(algo, env)
    algo._train_once(runner.obtain_episodes(0, 4000))
    return runner._snapshot(), ctxt.snapshot_dir


def bench_learning(vpg, log_root):
    timer = ReturnTimer()
    original_add = logger.add_output
    added = []

    def add_output(output):  # join the experiment's outputs once it starts
        original_add(output)
        if not added:
            added.append(True)
            original_add(timer)
            timer.start = time.perf_counter()
    logger.add_output = add_output
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            vpg.cartpole_vpg(dict(NO_ARCHIVE, log_dir=tempfile.mkdtemp(dir=log_root)), seed=0)
    finally:
        logger.add_output = original_add
    reached = next((t for t, r in timer.points if r >= 150), None)
    return reached, timer.points[-1]


def rows(reps=3, epochs=6):
    vpg = load_vpg()
    with tempfile.TemporaryDirectory() as log_root:
        print('determinism on/off ...', flush=True)
        on, off, det_ratio = bench_determinism(vpg, reps, epochs, log_root)
        print('VPG time to AverageReturn >= 150 ...', flush=True)
        reached, (total, final) = bench_learning(vpg, log_root)
    return [
        ('Determinism cost, VPG example, flags on ÷ off (CPU)', f'{det_ratio:.3f} '
         f'({on:.2f} s ÷ {off:.2f} s, median of {2 * reps} runs each, {epochs} epochs)',
         '≤ 1.05', det_ratio <= 1.05),
        ('VPG training time to AverageReturn ≥ 150', 'not reached' if reached is None else
         f'{reached:.1f} s (final return {final:.1f} after {total:.1f} s)', '≤ 60 s',
         reached is not None and reached <= 60),
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--reps', type=int, default=3, help='on-off-off-on blocks')
    parser.add_argument('--epochs', type=int, default=6,
                        help='epochs per determinism run (default settings otherwise)')
    args = parser.parse_args()
    print(table(rows(args.reps, args.epochs)))


if __name__ == '__main__':
    main()
