"""Shared by the benchmark scripts: timing and the Markdown table."""
import pathlib
import statistics
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
REPRO = [sys.executable, '-m', 'repro']


def timed(cmd, **kwargs):
    """Wall-clock seconds of one command (it must succeed)."""
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, **kwargs)
    return time.perf_counter() - start


def median_of(fn, reps):
    return statistics.median(fn() for _ in range(reps))


def table(rows):
    """Rows of (measure, result, goal, met) as a Markdown table."""
    lines = ['| measure | result | goal | met |', '|---|---|---|---|']
    lines += [f'| {m} | {r} | {g} | {"yes" if ok else "no" if ok is False else "–"} |'
              for m, r, g, ok in rows]
    return '\n'.join(lines)
