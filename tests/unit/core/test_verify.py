import os
import random
import shutil

import pytest

from repro.cli import main
from repro.manifest import artifacts
from repro.store import RunStore
from repro.verify import verify_run
from tests.unit.core.test_manifest import example_manifest


def make_run(root):
    store = RunStore(root)
    run_id = store.create_run('train.py', 0)
    run_dir = store.run_dir(run_id)
    files = {'outputs/progress.csv': b'Epoch,Loss\n0,0.5\n1,0.25\n',
             'outputs/params.pkl': bytes(range(256)) * 4,
             'logs/stdout.log': b'hello\n'}
    for rel, data in files.items():
        os.makedirs(os.path.dirname(os.path.join(run_dir, rel)), exist_ok=True)
        with open(os.path.join(run_dir, rel), 'wb') as f:
            f.write(data)
    manifest = example_manifest()
    manifest.update(run_id=run_id, artifacts=artifacts(run_dir))
    store.write_manifest(run_id, manifest)
    return store, run_id


def test_an_intact_run_verifies(tmp_path):
    store, run_id = make_run(tmp_path / 'store')
    assert verify_run(store, run_id) == ([], 3)


def mutate(run_dir, rng):
    files = sorted(os.path.join(d, f) for d, _, fs in os.walk(run_dir) for f in fs)
    kind = rng.choice(['flip', 'flip', 'delete', 'add'])
    if kind == 'add':
        with open(os.path.join(run_dir, 'outputs', f'extra{rng.randrange(99)}.txt'), 'w') as f:
            f.write('x')
        return
    path = rng.choice(files)
    if kind == 'delete':
        os.unlink(path)
        return
    data = bytearray(open(path, 'rb').read())
    i = rng.randrange(len(data))
    data[i] = (data[i] + rng.randrange(1, 256)) % 256
    with open(path, 'wb') as f:
        f.write(bytes(data))


def test_every_random_single_change_is_caught(tmp_path):
    store, run_id = make_run(tmp_path / 'pristine')
    pristine = store.run_dir(run_id)
    rng = random.Random(1234)
    for trial in range(100):
        copy_root = tmp_path / f't{trial}'
        copy = RunStore(copy_root)
        shutil.copytree(pristine, copy.run_dir(run_id))
        mutate(copy.run_dir(run_id), rng)
        problems, _ = verify_run(copy, run_id)
        assert problems, f'trial {trial} not caught'
        shutil.rmtree(copy_root)


def test_recomputed_artifact_hash_in_the_manifest_is_still_caught(tmp_path):
    """Editing the file and its recorded hash breaks the manifest digest."""
    import json
    store, run_id = make_run(tmp_path / 'store')
    run_dir = store.run_dir(run_id)
    with open(os.path.join(run_dir, 'logs', 'stdout.log'), 'wb') as f:
        f.write(b'forged\n')
    path = store.manifest_path(run_id)
    manifest = json.load(open(path))
    manifest['artifacts'] = artifacts(run_dir)
    from repro.manifest import render
    open(path, 'w').write(render(manifest))
    problems, _ = verify_run(store, run_id)
    assert problems == ['manifest.json content does not match its integrity digest']


def test_cli_verify_exit_codes(tmp_path, monkeypatch, capsys):
    store, run_id = make_run(tmp_path / 'store')
    monkeypatch.setenv('REPRO_HOME', str(tmp_path / 'store'))
    assert main(['verify', run_id[:-2]]) == 0
    assert 'verified' in capsys.readouterr().out
    os.unlink(os.path.join(store.run_dir(run_id), 'logs', 'stdout.log'))
    assert main(['verify', run_id]) == 3
    captured = capsys.readouterr()
    assert 'missing: logs/stdout.log' in captured.out
    assert captured.err.startswith('repro: error: run ') and captured.err.count('\n') == 1
