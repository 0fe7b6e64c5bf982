import hashlib
import os
import struct

from repro.cli import main
from repro.record.gitsource import snapshot_source
from repro.log.tensorboard import EventFileWriter, encode_event, tfrecord
from repro.audit.rundiff import final_metrics, pair_metric_files, short_float
from repro.store.runs import RunStore
from tests.helpers import git
from tests.helpers import example_manifest

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


def record_events(store, run_id, name, scalars_by_step):
    """Write a TensorBoard event file into a run's outputs, as a plain script does."""
    out = os.path.join(store.run_dir(run_id), 'outputs', 'runs', 'CartPole__1')
    os.makedirs(out)
    with open(os.path.join(out, name), 'wb') as f:
        f.write(tfrecord(encode_event(1.0, file_version='brain.Event:2')))
        for step, scalars in scalars_by_step:
            f.write(tfrecord(encode_event(2.0, step, scalars=scalars)))


def test_diff_compares_the_last_tensorboard_scalars(repo, tmp_path, monkeypatch,  # noqa: F811
                                                    capsys):
    store = RunStore(tmp_path / 'store')
    a = record(store, repo, 0, LOCK_A, 20.0)
    b = record(store, repo, 0, LOCK_A, 20.0)
    bits = struct.unpack('<I', struct.pack('<f', 0.1))[0]
    ulp = struct.unpack('<f', struct.pack('<I', bits + 1))[0]  # 0.1 one float32 ulp up

    def scalars(sps, ret, loss):
        return {'charts/SPS': sps, 'charts/episodic_return': ret, 'losses/value': loss}
    # old runs: the host in the name was the random container id
    record_events(store, a, 'events.out.tfevents.1795539848.3f2a9c1b7d4e.1.0',
                  [(100, scalars(900.0, 9.0, 0.1)), (200, scalars(950.0, 21.5, 0.1))])
    record_events(store, b, 'events.out.tfevents.1795541234.9e8d7c6b5a41.1.0',
                  [(100, scalars(870.0, 9.0, 0.1)), (200, scalars(1012.0, 21.5, ulp))])
    monkeypatch.setenv('REPRO_HOME', str(store.root))
    assert main(['diff', a, b]) == 0
    metrics = capsys.readouterr().out.split('## metrics\n')[1].splitlines()
    assert any('tfevents' in ln and 'last value' in ln for ln in metrics)
    (sps,) = [ln.split() for ln in metrics if 'charts/SPS' in ln]
    assert sps == ['charts/SPS', '950.0', '@200', '1012.0', '@200', '*']
    (ret,) = [ln.split() for ln in metrics if 'episodic_return' in ln]
    assert ret == ['charts/episodic_return', '21.5', '@200', '21.5', '@200']
    (loss,) = [ln.split() for ln in metrics if 'losses/value' in ln]
    assert loss == ['losses/value', '0.1', '@200', '0.10000001', '@200', '*']


def test_unpaired_and_unreadable_event_files_are_listed(tmp_path):
    root = tmp_path / 'run'
    (root / 'a').mkdir(parents=True)
    (root / 'a' / 'events.out.tfevents.1.host').write_bytes(b'\x00' * 5)
    os.symlink('/etc/passwd', root / 'a' / 'events.out.tfevents.2.host')
    EventFileWriter(str(root / 'b')).close()  # only a file version: no scalars
    metrics, notes = final_metrics(str(root))
    assert metrics == {}
    assert any('events.out.tfevents.1.host is not a readable event file' in n for n in notes)
    assert any('events.out.tfevents.2.host: a link, not read' in n for n in notes)


def test_short_float_is_the_shortest_float32_text_and_exact_otherwise():
    f32 = struct.unpack('<f', struct.pack('<f', 0.1))[0]
    assert short_float(f32) == '0.1' and short_float(0.1) == '0.1'
    assert short_float(1 / 3) == repr(1 / 3)  # a double keeps all its digits
    assert short_float(1e300) == '1e+300' and short_float(float('nan')) == 'nan'
    assert short_float(float('-inf')) == '-inf' and short_float(950.0) == '950.0'


def test_metric_files_pair_by_structure_and_the_rest_are_listed():
    a = ['out/progress.csv', 'out/events.out.tfevents.1795539848.box-a.1.0', 'out/itr_1.csv']
    b = ['out/progress.csv', 'out/events.out.tfevents.1795541234.box-b.1.0', 'out/itr_2.csv']
    pairs, unpaired = pair_metric_files({'hostname': 'box-a'}, {'hostname': 'box-b'}, a, b)
    assert pairs == [('out/events.out.tfevents.1795539848.box-a.1.0',
                      'out/events.out.tfevents.1795541234.box-b.1.0'),
                     ('out/progress.csv', 'out/progress.csv')]
    assert unpaired == ['only in a: out/itr_1.csv', 'only in b: out/itr_2.csv']
