"""Tampering with a finished run: 100 random single changes, each caught.

Each trial copies the run, then flips one byte, deletes one file or adds
one, in an artifact or in the manifest, and `repro verify` must report it.
"""
import os
import random
import shutil

import pytest

from repro.store.runs import RunStore
from repro.audit.verify import verify_run
from tests.support import ROOT, repro, run_id_of
from tests.helpers import make_run

TRIALS = 100


def mutate(run_dir, rng):
    """One random change; returns a description of it."""
    files = sorted(os.path.join(d, f) for d, _, fs in os.walk(run_dir) for f in fs)
    manifest = os.path.join(run_dir, 'manifest.json')
    kind = rng.choice(['flip', 'flip', 'delete', 'add'])
    if kind == 'add':
        where = rng.choice(sorted(d for d, _, _ in os.walk(run_dir)))
        path = os.path.join(where, f'extra{rng.randrange(99)}.txt')
        with open(path, 'w') as f:
            f.write('x')
        return f'add {os.path.relpath(path, run_dir)}'
    # One trial in four hits the manifest, one in four a snapshot (if the
    # run has any), the rest any other file.
    snapshots = [f for f in files if f.endswith('.pkl')]
    roll = rng.random()
    path = manifest if roll < 0.25 else rng.choice(
        snapshots if snapshots and roll < 0.5 else [f for f in files if f != manifest])
    if kind == 'delete':
        os.unlink(path)
        return f'delete {os.path.relpath(path, run_dir)}'
    data = bytearray(open(path, 'rb').read())
    if not data:
        with open(path, 'wb') as f:
            f.write(b'\0')
        return f'fill {os.path.relpath(path, run_dir)}'
    i = rng.randrange(len(data))
    data[i] = (data[i] + rng.randrange(1, 256)) % 256
    with open(path, 'wb') as f:
        f.write(bytes(data))
    return f'flip byte {i} of {os.path.relpath(path, run_dir)}'


def every_change_is_caught(store, run_id, tmp_path, seed):
    assert verify_run(store, run_id)[0] == []
    rng = random.Random(seed)
    caught, changes = 0, []
    for trial in range(TRIALS):
        copy = RunStore(tmp_path / f't{trial}')
        shutil.copytree(store.run_dir(run_id), copy.run_dir(run_id))
        change = mutate(copy.run_dir(run_id), rng)
        changes.append(change)
        problems, _ = verify_run(copy, run_id)
        assert problems, f'trial {trial} not caught: {change}'
        caught += 1
        shutil.rmtree(copy.root)
    assert caught == TRIALS
    return changes


def test_synthetic_run(tmp_path):
    store, run_id = make_run(tmp_path / 'store')
    every_change_is_caught(store, run_id, tmp_path, seed=1234)


@pytest.mark.docker
def test_real_finished_run(tmp_path, base_image):
    """A CEM example run under `repro run`: params, progress, logs, manifest."""
    home = tmp_path / 'store'
    run_id, status = run_id_of(repro('run', 'examples/cartpole_cem.py', '--', '--n-epochs',
                                     '2', cwd=ROOT, home=home))
    assert status == 'succeeded'
    changes = every_change_is_caught(RunStore(home), run_id, tmp_path, seed=99)
    assert sum('manifest.json' in c for c in changes) >= 10  # the manifest was attacked
    assert sum('.pkl' in c for c in changes) >= 5  # and the snapshots
    result = repro('verify', run_id, cwd=ROOT, home=home)
    assert 'verified' in result.stdout
