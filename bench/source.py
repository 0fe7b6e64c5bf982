#!/usr/bin/env python3
"""Source snapshots of a large repository (issue #5), side by side with git.

    python bench/source.py [--files 10000] [--mb 200] [--reps 3]

A generated repository of 10,000 files / 200 MB, committed, is snapshotted
by repro into an empty run store and, for comparison, by git's own
``git add -A`` into a fresh temporary index plus ``git write-tree``. Then
the unchanged tree is snapshotted again, and once more after one file
changed.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time

from common import table

from repro.record.gitsource import snapshot_source
from repro.store.runs import RunStore


def generate(root, n_files, megabytes):
    """A committed repository of ``n_files`` files of printable noise."""
    import numpy as np
    rng = np.random.default_rng(0)
    size = megabytes * 2 ** 20 // n_files
    os.makedirs(root)
    for i in range(n_files):
        folder = os.path.join(root, f'pkg{i % 100:02d}', f'mod{(i // 100) % 10}')
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, f'f{i}.py'), 'wb') as f:
            f.write(rng.integers(32, 127, size, dtype=np.uint8).tobytes())
    for args in (['init', '-q'], ['add', '-A'],
                 ['-c', 'user.name=b', '-c', 'user.email=b@e', 'commit', '-qm', 'bench']):
        subprocess.run(['git', '-C', root, *args], check=True)
    return root


def git_snapshot(repo, tmp):
    index = os.path.join(tmp, 'git-index')
    if os.path.exists(index):
        os.unlink(index)
    env = dict(os.environ, GIT_INDEX_FILE=index)
    start = time.perf_counter()
    subprocess.run(['git', '-C', repo, 'add', '-A'], check=True, env=env)
    subprocess.run(['git', '-C', repo, 'write-tree'], check=True, env=env,
                   capture_output=True)
    return time.perf_counter() - start


def ours(repo, store_root):
    start = time.perf_counter()
    snap = snapshot_source(repo, RunStore(store_root))
    return time.perf_counter() - start, snap


def store_entries(store_root):
    """Blobs held in the store's packs."""
    store = RunStore(store_root)
    return len(store._packed())


def rows(n_files=10000, megabytes=200, reps=3):
    with tempfile.TemporaryDirectory(prefix='repro-bench-src-') as tmp:
        repo = generate(os.path.join(tmp, 'repo'), n_files, megabytes)
        git_snapshot(repo, tmp)  # warm the page cache for both sides
        gits, firsts = [], []
        for rep in range(reps):
            gits.append(git_snapshot(repo, tmp))
            store_root = os.path.join(tmp, f'store{rep}')
            seconds, snap = ours(repo, store_root)
            firsts.append(seconds)
            if rep < reps - 1:
                shutil.rmtree(store_root)
        stored = snap.new_bytes
        again, unchanged = ours(repo, store_root)
        before = store_entries(store_root)
        changed_file = os.path.join(repo, 'pkg07', 'mod3', 'f307.py')
        with open(changed_file, 'ab') as f:
            f.write(b'# one more line\n')
        _, changed = ours(repo, store_root)
        new_blobs = store_entries(store_root) - before
        git, first = statistics.median(gits), statistics.median(firsts)
        size = os.path.getsize(changed_file)
    return [
        (f'Source snapshot, {n_files:,} files / {megabytes} MB ÷ `git add -A` into a fresh '
         'temporary index + `git write-tree`',
         f'{first / git:.2f} ({first:.2f} s ÷ {git:.2f} s, median of {reps}; '
         f'{stored / 2 ** 20:.0f} MiB stored)', '≤ 1.2', first / git <= 1.2),
        ('Re-snapshot of the unchanged tree',
         f'{again * 1e3:.0f} ms, {unchanged.new_bytes} new bytes', '≤ 0.2 s, 0 bytes',
         again <= 0.2 and unchanged.new_bytes == 0),
        ('Snapshot after changing one file',
         f'{new_blobs} new blob, {changed.new_bytes:,} bytes (the file: {size:,} bytes)',
         'only that blob', new_blobs == 1 and changed.new_bytes == size),
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--files', type=int, default=10000)
    parser.add_argument('--mb', type=int, default=200)
    parser.add_argument('--reps', type=int, default=3)
    args = parser.parse_args()
    print(table(rows(args.files, args.mb, args.reps)))


if __name__ == '__main__':
    main()
