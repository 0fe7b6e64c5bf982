"""Launchers run as scripts, the way users run them (``python examples/x.py``).

Classes defined in a script's ``__main__`` are pickled by value, which is a
different path from importing the example as a module.
"""
import subprocess
import sys

import pytest

from repro.core.content import first_difference
from repro.experiment import Snapshotter
from tests.conftest import ROOT
from tests.helpers import read_csv

pytestmark = pytest.mark.slow


def script(*args, cwd):
    result = subprocess.run([sys.executable, *map(str, args)], cwd=cwd, capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stderr[-2000:]


def test_cem_script_resume_and_rerun(tmp_path):
    pytest.importorskip('gymnasium')
    cem, resume = ROOT / 'examples' / 'cartpole_cem.py', ROOT / 'examples' / 'resume_training.py'
    script(cem, '--n-epochs', '3', cwd=tmp_path)
    script(cem, '--n-epochs', '3', cwd=tmp_path)
    script(cem, '--n-epochs', '1', cwd=tmp_path)
    runs = tmp_path / 'data' / 'local' / 'experiment'
    full, again, half = (runs / 'cartpole_cem_seed_0_n_epochs_3', runs /
                         'cartpole_cem_seed_0_n_epochs_3_1', runs / 'cartpole_cem_seed_0_n_epochs_1')
    script(resume, half, '--n-epochs', '3', cwd=tmp_path)
    resumed = runs / 'resume_experiment'

    full_rows = read_csv(full / 'progress.csv')
    assert 'AverageReturn' in full_rows[0]
    assert read_csv(resumed / 'progress.csv') == full_rows[1:]
    assert (full / 'progress.csv').read_bytes() == (again / 'progress.csv').read_bytes()
    load = lambda d: Snapshotter(str(d)).load(str(d))  # noqa: E731
    assert first_difference(load(full)['algo'], load(again)['algo']) is None
    assert first_difference(load(full)['algo'], load(resumed)['algo']) is None
    assert first_difference(load(full)['algo'], load(half)['algo']) is not None


def test_ctrl_c_with_parallel_workers_is_recorded_as_interrupted(tmp_path):
    import json
    import signal
    import time
    launcher = tmp_path / 'launch.py'
    launcher.write_text(f'''
import sys
sys.path.insert(0, {str(ROOT)!r})
from repro import wrap_experiment
from repro.experiment import LocalRunner, deterministic
from repro.sampler import MultiprocessingSampler
from tests.helpers import NoisyWalk, ToyAlgo

@wrap_experiment(archive_launch_repo=False)
def mp(ctxt=None, seed=0):
    deterministic.set_seed(seed)
    runner = LocalRunner(ctxt)
    runner.setup(ToyAlgo(), NoisyWalk(), sampler_cls=MultiprocessingSampler, n_workers=2)
    runner.train(n_epochs=10 ** 6, batch_size=20)

if __name__ == '__main__':
    mp()
''')
    proc = subprocess.Popen([sys.executable, str(launcher)], cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    log_dir = tmp_path / 'data' / 'local' / 'experiment' / 'mp'
    deadline = time.time() + 60
    while time.time() < deadline and not (log_dir / 'params.pkl').exists():
        time.sleep(0.2)
    import os
    os.killpg(proc.pid, signal.SIGINT)  # like Ctrl-C: the whole process group
    _, err = proc.communicate(timeout=60)
    assert 'KeyboardInterrupt' in err.decode()
    assert 'ConnectionResetError' not in err.decode()
    assert json.loads((log_dir / 'metadata.json').read_text())['status'] == 'interrupted'


STOPPING = '''
import os, runpy, signal, sys
from repro.experiment import LocalRunner
if not os.environ.get('REPRO_RESUME_FROM'):  # the first attempt stops in epoch 1
    steps = LocalRunner.step_epochs

    def step_epochs(runner):
        for epoch in steps(runner):
            if epoch == 1:
                os.kill(os.getpid(), signal.SIGTERM)
            yield epoch
    LocalRunner.step_epochs = step_epochs
runpy.run_path({example!r}, run_name='__main__')
'''


@pytest.mark.parametrize('example', ['cartpole_cem', 'cartpole_vpg'])
def test_a_stopped_example_resumes_to_the_bytes_of_an_uninterrupted_run(tmp_path, example):
    """Issue 13, as in a run's container (``python -m repro.runtime``, each
    attempt a process of its own): two runs, and a run stopped by SIGTERM and
    resumed from its outputs, write byte-identical progress.csv and
    snapshots, torch's included."""
    import os

    from repro import contract
    pytest.importorskip('gymnasium')
    if example == 'cartpole_vpg':
        pytest.importorskip('torch')
    path = ROOT / 'examples' / f'{example}.py'
    stopping = tmp_path / 'stopping.py'
    stopping.write_text(STOPPING.format(example=str(path)))

    def attempt(name, launcher, **env):
        where = tmp_path / name
        where.mkdir()
        result = subprocess.run(
            [sys.executable, '-m', 'repro.runtime', str(launcher), '--n-epochs', '3'],
            cwd=where, capture_output=True, text=True, timeout=600,
            env={**os.environ, 'PYTHONHASHSEED': '0', contract.ENV_SEED: '0',
                 'OMP_NUM_THREADS': '1', **env})
        (log_dir,) = where.glob('data/local/experiment/*')
        return result.returncode, {p.name: p.read_bytes() for p in log_dir.iterdir()
                                   if p.name in ('progress.csv', 'params.pkl')}

    code, full = attempt('full', path)
    assert code == 0 and attempt('again', path) == (0, full)
    assert attempt('stopped', stopping)[0] == contract.EXIT_STOPPED
    assert attempt('resumed', stopping,
                   **{contract.ENV_RESUME_FROM: str(tmp_path / 'stopped')}) == (0, full)
