import os

import pytest

from repro.cli import main
from repro.errors import ConfigError, UntrustedFileError
from repro.log.tensorboard import encode_event, tfrecord
from repro.audit.plot import mean_and_std, run_series, series
from repro.store.runs import RunStore
from tests.helpers import example_manifest


def test_series_uses_total_env_steps_and_skips_blank_cells():
    rows = [{'Epoch': '0', 'TotalEnvSteps': '100', 'AverageReturn': '1.5'},
            {'Epoch': '1', 'TotalEnvSteps': '200', 'AverageReturn': ''},
            {'Epoch': '2', 'TotalEnvSteps': '300', 'AverageReturn': '3'}]
    assert series(rows, 'AverageReturn') == ('TotalEnvSteps', [100.0, 300.0], [1.5, 3.0])
    with pytest.raises(ConfigError, match='not in progress.csv'):
        series(rows, 'Loss')


def test_mean_and_std_cut_to_the_shortest():
    assert mean_and_std([[1.0, 3.0, 9.0], [3.0, 5.0]]) == ([2.0, 4.0], [1.0, 1.0])


def test_plot_writes_a_png(tmp_path, monkeypatch):
    pytest.importorskip('matplotlib')
    store = RunStore(tmp_path / 'store')
    ids = []
    for seed in (0, 1, 2):
        run_id = store.create_run('train.py', seed)
        out = os.path.join(store.run_dir(run_id), 'outputs', 'data')
        os.makedirs(out)
        with open(os.path.join(out, 'progress.csv'), 'w') as f:
            f.write('Epoch,TotalEnvSteps,AverageReturn\n' + ''.join(
                f'{e},{1000 * (e + 1)},{10 * e + seed}\n' for e in range(5)))
        manifest = example_manifest()
        manifest.update(run_id=run_id, seed=seed)
        store.write_manifest(run_id, manifest)
        ids.append(run_id)
    monkeypatch.setenv('REPRO_HOME', str(store.root))
    png = tmp_path / 'curves.png'
    assert main(['plot', *ids, '-o', str(png)]) == 0
    assert png.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n' and png.stat().st_size > 10_000


def write_events(directory, scalars_by_step, name='events.out.tfevents.1795539848.box.1.0'):
    """An event file as torch.utils.tensorboard writes it (simple_value scalars)."""
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, name), 'wb') as f:
        f.write(tfrecord(encode_event(1.0, file_version='brain.Event:2')))
        for step, scalars in scalars_by_step:
            f.write(tfrecord(encode_event(2.0, step, scalars=scalars)))


def test_a_metric_missing_from_progress_csv_comes_from_event_scalars(tmp_path):
    (tmp_path / 'progress.csv').write_text('Epoch,AverageReturn\n0,1\n')
    write_events(tmp_path / 'runs' / 'a', [(128, {'charts/episodic_return': 9.5}),
                                          (256, {'charts/SPS': 900.0}),
                                          (512, {'charts/episodic_return': 20.0})])
    assert run_series(str(tmp_path), 'AverageReturn') == ('Epoch', [0.0], [1.0])
    assert run_series(str(tmp_path), 'charts/episodic_return') == (
        'step', [128.0, 512.0], [9.5, 20.0])
    with pytest.raises(ConfigError) as err:
        run_series(str(tmp_path), 'Loss', 'run X')
    assert 'is in neither the progress.csv nor the TensorBoard scalars of run X' in str(err.value)
    assert err.value.hint == ('choose one of: AverageReturn, Epoch, charts/SPS, '
                              'charts/episodic_return')


def test_a_run_without_metrics_or_with_a_bad_event_file_is_a_one_line_error(tmp_path):
    with pytest.raises(ConfigError, match='has no progress.csv or TensorBoard scalars'):
        run_series(str(tmp_path), 'x')
    (tmp_path / 'events.out.tfevents.1.box').write_bytes(b'\x01' * 20)
    with pytest.raises(UntrustedFileError, match='not a readable event file .*corrupt'):
        run_series(str(tmp_path), 'x')
    (tmp_path / 'events.out.tfevents.1.box').unlink()
    os.symlink('/dev/zero', tmp_path / 'events.out.tfevents.1.box')
    with pytest.raises(UntrustedFileError, match='is a link'):
        run_series(str(tmp_path), 'x')


def test_plot_a_run_that_has_only_event_files(tmp_path, monkeypatch, capsys):
    pytest.importorskip('matplotlib')
    store = RunStore(tmp_path / 'store')
    run_id = store.create_run('ppo.py', 1)
    write_events(os.path.join(store.run_dir(run_id), 'outputs', 'runs', 'CartPole__ppo__1'),
                 [(s, {'charts/episodic_return': s / 10}) for s in range(0, 5000, 500)])
    manifest = example_manifest()
    manifest.update(run_id=run_id, seed=1)
    store.write_manifest(run_id, manifest)
    monkeypatch.setenv('REPRO_HOME', str(store.root))
    png = tmp_path / 'x.png'
    assert main(['plot', run_id, '--metric', 'charts/episodic_return', '-o', str(png)]) == 0
    assert png.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    assert main(['plot', run_id, '--metric', 'nope', '-o', str(png)]) == 2
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and 'choose one of: charts/episodic_return' in err
