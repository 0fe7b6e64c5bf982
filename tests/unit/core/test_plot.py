import os

import pytest

from repro.cli import main
from repro.errors import ConfigError
from repro.plot import mean_and_std, series
from repro.store import RunStore
from tests.unit.core.test_manifest import example_manifest


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
