"""The library must work where only numpy and cloudpickle are installed.

A subprocess blocks torch, gymnasium, tensorboard and typer at import time,
then runs a whole experiment (with the gymnasium-API toy env from helpers).
"""
import subprocess
import sys
import textwrap

from tests.conftest import ROOT

BLOCKER = textwrap.dedent('''
    import importlib.abc, sys
    BLOCKED = {'torch', 'gymnasium', 'tensorboard', 'typer', 'docker', 'git'}

    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name.split('.')[0] in BLOCKED:
                raise ImportError(f'{name} is blocked for this test')

    sys.meta_path.insert(0, Block())
''')


def run_python(code, cwd):
    return subprocess.run([sys.executable, '-c', BLOCKER + textwrap.dedent(code)],
                          cwd=cwd, capture_output=True, text=True,
                          env={'PYTHONPATH': str(ROOT), 'PATH': '/usr/bin:/bin'})


def test_library_runs_an_experiment_without_optional_packages(tmp_path):
    result = run_python('''
        from repro import wrap_experiment, logger, tabular
        from repro.experiment import deterministic, LocalRunner, Trainer, Snapshotter
        from repro.sampler import LocalSampler, MultiprocessingSampler
        from repro.core.content import first_difference
        from tests.helpers import NoisyWalk, ToyAlgo

        @wrap_experiment(archive_launch_repo=False)
        def exp(ctxt=None, seed=0):
            record = deterministic.set_seed(seed)
            assert 'torch' not in record, record
            runner = LocalRunner(ctxt)
            runner.setup(ToyAlgo(), NoisyWalk())
            runner.train(n_epochs=2, batch_size=20)

        exp()
        assert 'torch' not in sys.modules and 'gymnasium' not in sys.modules
        print('OK')
    ''', tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith('OK')
    log_dir = tmp_path / 'data' / 'local' / 'experiment' / 'exp'
    assert (log_dir / 'params.pkl').exists()
    assert len((log_dir / 'progress.csv').read_text().splitlines()) == 3


def test_cli_help_does_not_import_the_library():
    code = ('import sys; from repro.cli import full_app; full_app(); '
            'print(sorted(m for m in ("numpy", "cloudpickle", "torch") if m in sys.modules))')
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                            cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == '[]'


def test_replay_comparison_needs_no_training_packages_on_the_host(tmp_path):
    """``repro replay`` compares from a venv with only repro's own dependencies:
    nothing on the host side of a comparison imports torch, gymnasium or
    tensorboard, and no pickle is loaded there."""
    result = run_python('''
        import os, pickle, zipfile
        BLOCKED.discard('docker'); BLOCKED.discard('git')
        from repro.audit.compare import compare_outputs
        import repro.audit.replay, repro.contentcheck, repro.audit.rundiff, repro.audit.plot
        for side, value in (('a', 1), ('b', 2)):
            os.makedirs(f'{side}/outputs')
            open(f'{side}/outputs/progress.csv', 'w').write(f'Epoch,Loss\\n0,{value}\\n')
            open(f'{side}/outputs/params.pkl', 'wb').write(pickle.dumps({'w': value}))
            with zipfile.ZipFile(f'{side}/outputs/model.zip', 'w') as zf:
                zf.writestr('data', '{"start_time": %d, "n": 1}' % value)
        result = compare_outputs('a', 'b')
        assert result.verdict == 'DIVERGED', result.to_json()
        assert [d.path for d in result.divergences] == ['outputs/progress.csv',
                                                         'outputs/params.pkl']
        assert not {'torch', 'gymnasium', 'tensorboard'} & set(sys.modules)
        print('OK')
    ''', tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith('OK')
