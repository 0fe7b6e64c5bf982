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
