#!/usr/bin/env python3
"""Snapshot cost: ``Snapshotter.save_itr_params`` ÷ ``cloudpickle.dump`` to a file.

    python bench/snapshot.py [--n 200]

(``python bench/all.py`` runs every benchmark and writes docs/BENCHMARKS.md.)

The object is the VPG example runner's real snapshot after one epoch. Each
repetition times both, in a shuffled order so both see the same machine
state:

- the baseline, what garage's save does: ``open(path, 'wb')`` and
  ``cloudpickle.dump`` into it, in the same directory (same disk);
- ``save_itr_params`` in ``last`` mode: pickled into a temporary file and
  renamed, complete under ``params.pkl`` when it returns (goal <= 1.1).

The fsync that makes a snapshot survive a power cut runs on a background
thread. In training an epoch separates two saves, so it has finished by the
next save; ``wait()`` outside the timed region reproduces that. Save plus
``wait()`` (durable at once) is reported beside it, against the baseline
plus its own fsync.
"""
import argparse
import os
import random
import statistics
import tempfile
import time

import cloudpickle
from common import table
from library import load_vpg, vpg_snapshot

from repro.experiment import Snapshotter


def bench(params, directory, n):
    """Median seconds of: dump, save (one loop), dump + fsync, save + wait
    (a second loop).

    Each repetition runs its pair in a shuffled order (seeded), so neither
    always runs right after the other. The save's fsync, which training
    overlaps with the next epoch, is waited for outside the timed region,
    and so is an fsync of the baseline's file: each step starts with no
    dirty data of the other's on the disk (without it, the baseline was the
    slower one, truncating a file still being written back).
    """
    snapshotter = Snapshotter(directory, 'last')
    baseline = os.path.join(directory, 'baseline.pkl')

    def dump(fsync=False):
        with open(baseline, 'wb') as f:
            cloudpickle.dump(params, f)
            if fsync:
                f.flush()
                os.fsync(f.fileno())

    def save(wait=False):
        snapshotter.save_itr_params(0, params)
        if wait:
            snapshotter.wait()

    rng = random.Random(0)
    times = {}
    for pair in ({'dump': dump, 'save': save},
                 {'dump_fsync': lambda: dump(fsync=True), 'save_wait': lambda: save(wait=True)}):
        order = list(pair)
        for name in order:
            times[name] = []
        for _ in range(n):
            rng.shuffle(order)
            for name in order:
                start = time.perf_counter()
                pair[name]()
                times[name].append(time.perf_counter() - start)
                snapshotter.wait()
                with open(baseline, 'rb') as f:  # both start from a clean disk
                    os.fsync(f.fileno())
    return {k: statistics.median(v) for k, v in times.items()}, os.path.getsize(baseline)


def rows(n=200):
    vpg = load_vpg()
    with tempfile.TemporaryDirectory() as log_root:
        print('snapshot save vs cloudpickle.dump to a file ...', flush=True)
        params, directory = vpg_snapshot(vpg, log_root)
        t, size = bench(params, directory, n)
    ms = {k: v * 1e3 for k, v in t.items()}
    ratio, durable = t['save'] / t['dump'], t['save_wait'] / t['dump_fsync']
    return [
        ('Snapshot save ÷ cloudpickle.dump to a file on the same disk (file complete '
         'under its final name when save returns)',
         f'{ratio:.3f} ({ms["save"]:.2f} ms ÷ {ms["dump"]:.2f} ms, {size / 1e6:.1f} MB, '
         f'median of {n})', '≤ 1.1', ratio <= 1.1),
        ('Snapshot save + wait until durable ÷ cloudpickle.dump + fsync',
         f'{durable:.3f} ({ms["save_wait"]:.2f} ms ÷ {ms["dump_fsync"]:.2f} ms, '
         f'median of {n})', '(reference)', None),
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--n', type=int, default=200, help='repetitions')
    print(table(rows(parser.parse_args().n)))


if __name__ == '__main__':
    main()
