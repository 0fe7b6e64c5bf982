#!/usr/bin/env python3
"""What the collector costs while a command starts (repro/__main__.py).

    python bench/startup.py [--pairs 81]

A fresh interpreter imports what a warm `repro run` imports (typer,
docker-py, the CLI and the run's modules) and reports the process CPU time
of those imports, once with Python's default collector thresholds and once
with each setting below, alternately, so both see the same machine. The
machine's speed drifts by more than the difference, so the figure is the
median of the paired differences (default minus setting) with its quartiles.
No Docker needed.
"""
import argparse
import os
import statistics
import subprocess
import sys

from common import ROOT, table

IMPORTS = '''import time, gc
{setting}
start = time.process_time()
import typer, docker, repro.cli
import repro.execute.run, repro.execute.container, repro.execute.prepare
import repro.engines.dockerengine
print((time.process_time() - start) * 1e3)
gc.freeze()
'''
SETTINGS = {'`collect_less()` (first threshold 50,000, as `repro` starts)':
            'from repro.__main__ import collect_less; collect_less()',
            'collector disabled (the bound)': 'gc.disable()'}
ENV = {**{k: v for k, v in os.environ.items() if k != 'PYTHONDONTWRITEBYTECODE'},
       'PYTHONPATH': str(ROOT)}


def imports_ms(setting):
    out = subprocess.run([sys.executable, '-c', IMPORTS.format(setting=setting)], env=ENV,
                         capture_output=True, text=True, check=True).stdout
    return float(out)


def rows(pairs=81):
    found = []
    for label, setting in SETTINGS.items():
        default, tuned = [], []
        for _ in range(pairs):
            default.append(imports_ms(''))
            tuned.append(imports_ms(setting))
        saved = sorted(d - t for d, t in zip(default, tuned))
        q1, q3 = saved[len(saved) // 4], saved[3 * len(saved) // 4]
        found.append((f'CPU of a warm run\'s imports saved by {label}',
                      f'{statistics.median(saved):.1f} ms (quartiles {q1:.1f} to {q3:.1f}; '
                      f'default {statistics.median(default):.0f} ms, this '
                      f'{statistics.median(tuned):.0f} ms; {pairs} pairs)', '(reference)', None))
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--pairs', type=int, default=81)
    args = parser.parse_args()
    print(table(rows(args.pairs)))


if __name__ == '__main__':
    main()
