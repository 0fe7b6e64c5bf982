import hashlib
import os

from repro.cli import main
from repro.gitsource import snapshot_source
from repro.store import RunStore
from tests.unit.core.test_gitsource import git, repo  # noqa: F401  (fixture)
from tests.unit.core.test_manifest import example_manifest

H = {c: (c * 64).encode() for c in 'abcd'}
LOCK_A = b'numpy==2.0.0 \\\n    --hash=sha256:' + H['a'] + b'\nsix==1.16.0 \\\n    --hash=sha256:' + H['b'] + b'\n'
LOCK_B = b'numpy==2.1.0 \\\n    --hash=sha256:' + H['c'] + b'\ntorch==2.13.0 \\\n    --hash=sha256:' + H['d'] + b'\n'


def record(store, repo_dir, seed, lock, final_return):  # noqa: F811
    snap = snapshot_source(str(repo_dir), store)
    store.put_object(hashlib.sha256(lock).hexdigest(), lock)
    run_id = store.create_run('train.py', seed)
    out = os.path.join(store.run_dir(run_id), 'outputs')
    os.makedirs(out)
    with open(os.path.join(out, 'progress.csv'), 'w') as f:
        f.write(f'Epoch,AverageReturn\n0,10.0\n1,{final_return}\n')
    manifest = example_manifest()
    manifest.update(run_id=run_id, seed=seed, git=snap.git_record())
    manifest['lock']['sha256'] = hashlib.sha256(lock).hexdigest()
    store.write_manifest(run_id, manifest)
    return run_id


def test_diff_shows_changed_file_package_and_seed(repo, tmp_path, monkeypatch, capsys):  # noqa: F811
    store = RunStore(tmp_path / 'store')
    a = record(store, repo, 0, LOCK_A, 20.0)
    (repo / 'train.py').write_text('print(2)\n')
    b = record(store, repo, 1, LOCK_B, 25.5)
    monkeypatch.setenv('REPRO_HOME', str(store.root))
    assert main(['diff', a, b, '--patch']) == 0
    out = capsys.readouterr().out
    assert 'modified: train.py' in out and '+print(2)' in out
    assert 'changed: numpy 2.0.0 -> 2.1.0' in out
    assert 'removed: six==1.16.0' in out and 'added: torch==2.13.0' in out
    assert 'seed: 0 -> 1' in out
    assert 'AverageReturn' in out and '20.0' in out and '25.5' in out
