#!/usr/bin/env python3
"""Every benchmark in one run, written to docs/BENCHMARKS.md as one table.

    python bench/all.py [--write docs/BENCHMARKS.md]   (make bench)

Needs a Docker Engine and the base image (scripts/docker-up) and about
ten minutes on a 2-core machine. Each figure is a ratio or a count measured
side by side in this one run; the scripts it calls say how.
"""
import argparse
import datetime
import os
import pathlib
import platform
import shutil
import time

import library
import snapshot
import replay
import run
import source
import startup
import sweep
from common import table


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--write', help='write the table to this Markdown file')
    args = parser.parse_args()
    out = pathlib.Path(args.write).resolve() if args.write else None  # benches chdir
    start = time.perf_counter()
    rows = (run.rows() + startup.rows() + source.rows() + library.rows() + snapshot.rows()
            + replay.rows())
    if shutil.which('sbatch'):  # the Slurm test cluster (scripts/slurm-up)
        rows += sweep.rows()
    minutes = (time.perf_counter() - start) / 60
    text = table(rows)
    print(text)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(document(text, minutes, args.write))


def document(text, minutes, name):
    """docs/BENCHMARKS.md: the table and how it was made."""
    return ('# Benchmarks\n\n'
            f'Produced by `python bench/all.py --write {name}` (`make bench`) on '
            f'{datetime.date.today().isoformat()}, on a {os.cpu_count()}-core '
            f'{platform.machine()} machine with a local Docker Engine, in {minutes:.0f} '
            'minutes. How each figure is measured: the docstrings of bench/run.py, '
            'bench/startup.py, bench/source.py, bench/library.py, bench/snapshot.py and bench/replay.py. Why a goal is not '
            'met: README.md, section Benchmarks.\n\n' + text + '\n')


if __name__ == '__main__':
    main()
