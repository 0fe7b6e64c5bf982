"""Transparent resume (issue 13): an attempt stopped at any point, then
resumed through ``REPRO_RESUME_FROM``, ends with the ``progress.csv`` and
snapshots of an uninterrupted run, byte for byte.

A kill is simulated by copying the outputs directory at a chosen moment of
an uninterrupted run (what is on disk then is what a SIGKILL leaves: Python's
unflushed buffers are not in it), then resuming from that copy in a new
outputs directory. SIGTERM is sent for real.
"""
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from repro import contract, tabular, wrap_experiment
from repro.experiment import LocalRunner, canonical, deterministic, pickling, stopping
from repro.experiment import snapshotter as snapshotter_module
from repro.log.tensorboard import read_events
from tests.conftest import ROOT
from tests.helpers import NoisyWalk, ToyAlgo


class WideningAlgo(ToyAlgo):
    """From epoch 3 on it records one more column: progress.csv is rewritten
    with a wider header (the case a byte-size cut alone would get wrong)."""

    def train(self, runner):
        for epoch in runner.step_epochs():
            episodes = runner.obtain_episodes(runner.step_itr)
            self.policy.bias = float(np.clip(self.policy.bias + np.random.normal() * 0.05,
                                             0.05, 0.95))
            tabular.record('AverageReturn', float(episodes.undiscounted_returns().mean()))
            if epoch >= 3:
                tabular.record('Late', epoch * 2)
            runner.step_itr += 1


def make_toy(mode):
    @wrap_experiment(archive_launch_repo=False, snapshot_mode=mode,
                     snapshot_gap=1 if mode != 'gap_and_last' else 2)
    def toy(ctxt=None, seed=0, n_epochs=6):
        deterministic.set_seed(seed)
        runner = LocalRunner(ctxt)
        runner.setup(WideningAlgo(), NoisyWalk(), n_workers=2)
        runner.train(n_epochs=n_epochs, batch_size=30)
        return ctxt.snapshot_dir
    return toy


class Captures:
    """Copies of the outputs directory taken at chosen moments of a run."""

    def __init__(self, monkeypatch, root, moments):
        self.root, self.moments, self.saving = root, set(moments), None
        save, obtain, hold = (LocalRunner.save, LocalRunner.obtain_episodes,
                              snapshotter_module._hold)

        def save_(runner, epoch):
            self.take(f'dumped-{epoch}')       # its row is in progress.csv, no snapshot yet
            self.saving = epoch
            try:
                save(runner, epoch)
            finally:
                self.saving = None
            self.take(f'saved-{epoch}')

        def obtain_(runner, itr, *args, **kwargs):
            episodes = obtain(runner, itr, *args, **kwargs)
            self.take(f'mid-epoch-{itr}')       # sampling done, nothing logged
            return episodes

        def hold_(path):
            if self.saving is not None:        # written to a temporary file, not renamed
                self.take(f'mid-save-{self.saving}')
            return hold(path)
        monkeypatch.setattr(LocalRunner, 'save', save_)
        monkeypatch.setattr(LocalRunner, 'obtain_episodes', obtain_)
        monkeypatch.setattr(snapshotter_module, '_hold', hold_)

    def take(self, name):
        if name in self.moments and not (self.root / name).exists():
            shutil.copytree(os.getcwd(), self.root / name, symlinks=True)


def attempt(monkeypatch, where, experiment, resume_from=None):
    where.mkdir()
    monkeypatch.chdir(where)
    if resume_from is None:
        monkeypatch.delenv(contract.ENV_RESUME_FROM, raising=False)
    else:
        monkeypatch.setenv(contract.ENV_RESUME_FROM, str(resume_from))
    return pathlib.Path(experiment())


def outputs(log_dir):
    """What must be byte-identical: progress.csv and every snapshot."""
    return {p.name: p.read_bytes() for p in sorted(log_dir.iterdir())
            if p.name == 'progress.csv' or p.suffix == '.pkl'}


def scalars(log_dir):
    (events,) = log_dir.glob('events.out.tfevents.*')
    return read_events(events)


MOMENTS = ['mid-epoch-0', 'dumped-2', 'mid-save-2', 'saved-2', 'mid-epoch-3', 'dumped-3',
           'dumped-5', 'saved-5']


@pytest.mark.parametrize('mode', ['last', 'all', 'gap_and_last'])
def test_a_run_stopped_at_any_point_resumes_to_the_same_bytes(tmp_path, monkeypatch, mode):
    """Stopped mid-epoch, after an epoch's dump but before its snapshot, in the
    middle of writing the snapshot, right after it, or after the last epoch:
    the resumed run's progress.csv, snapshots and TensorBoard scalars are the
    uninterrupted run's. Snapshots are compared as bytes: a resumed run
    pickles names, numpy dtypes and class ids as a fresh one does
    (repro.experiment.canonical)."""
    toy = make_toy(mode)
    with monkeypatch.context() as hooks:
        Captures(hooks, tmp_path, MOMENTS)
        full = attempt(monkeypatch, tmp_path / 'full', toy)
    again = attempt(monkeypatch, tmp_path / 'again', toy)
    assert outputs(again) == outputs(full)  # the toy itself is deterministic
    assert {p.name for p in tmp_path.iterdir()} >= set(MOMENTS)
    for moment in MOMENTS:
        resumed = attempt(monkeypatch, tmp_path / f'resumed-{moment}', toy,
                          resume_from=tmp_path / moment)
        assert resumed.relative_to(tmp_path / f'resumed-{moment}') == \
            full.relative_to(tmp_path / 'full')
        assert outputs(resumed) == outputs(full), moment
        assert scalars(resumed) == scalars(full), moment
        log = (resumed / 'debug.log').read_text()
        assert ('No snapshot to resume from' if moment == 'mid-epoch-0' else
                'Resuming from') in log, moment


def test_a_resumed_attempt_stopped_again_resumes_again(tmp_path, monkeypatch):
    """An attempt is stopped right after it took over the earlier outputs
    (before its own first snapshot), and again later: a chain of resumes
    still ends with the uninterrupted bytes."""
    toy = make_toy('all')
    full = attempt(monkeypatch, tmp_path / 'full', toy)
    with monkeypatch.context() as hooks:
        Captures(hooks, tmp_path / 'first', ['dumped-1'])
        (tmp_path / 'first').mkdir()
        attempt(monkeypatch, tmp_path / 'one', toy)
    with monkeypatch.context() as hooks:
        Captures(hooks, tmp_path / 'second', ['mid-epoch-1', 'dumped-4'])
        (tmp_path / 'second').mkdir()
        attempt(monkeypatch, tmp_path / 'two', toy, resume_from=tmp_path / 'first' / 'dumped-1')
    hop = attempt(monkeypatch, tmp_path / 'three', toy,
                  resume_from=tmp_path / 'second' / 'mid-epoch-1')
    assert outputs(hop) == outputs(full)
    last = attempt(monkeypatch, tmp_path / 'four', toy,
                   resume_from=tmp_path / 'second' / 'dumped-4')
    assert outputs(last) == outputs(full)
    assert (last / 'debug.log').read_text().count('Resuming from') == 2
    text = (last / 'stdout.log').read_text()
    assert text.index('epoch #0') < text.index('Resuming from') < text.rindex('epoch #5')


@pytest.fixture
def sigterm():
    """SIGTERM handled as in a run's container; the test's handler back after."""
    previous = signal.getsignal(signal.SIGTERM)
    stopping.install()
    yield
    signal.signal(signal.SIGTERM, previous)


@pytest.mark.parametrize('when', ['dump', 'mid-epoch'])
def test_sigterm_stops_after_the_epochs_snapshot_and_the_next_attempt_resumes(
        tmp_path, monkeypatch, sigterm, when):
    """SIGTERM during an epoch's dump waits for its snapshot; during the
    epoch it stops at once. Either way the run is recorded interrupted and
    its outputs resume to the uninterrupted bytes."""
    toy = make_toy('last')
    full = attempt(monkeypatch, tmp_path / 'full', toy)
    saved = []
    if when == 'dump':
        dump = LocalRunner.log_diagnostics

        def log_diagnostics(runner, epoch, *args):
            if epoch == 2:
                os.kill(os.getpid(), signal.SIGTERM)
            return dump(runner, epoch, *args)
        monkeypatch.setattr(LocalRunner, 'log_diagnostics', log_diagnostics)
    else:
        obtain = LocalRunner.obtain_episodes

        def obtain_episodes(runner, itr, *args, **kwargs):
            if itr == 3:
                os.kill(os.getpid(), signal.SIGTERM)
            return obtain(runner, itr, *args, **kwargs)
        monkeypatch.setattr(LocalRunner, 'obtain_episodes', obtain_episodes)
    save = LocalRunner.save
    monkeypatch.setattr(LocalRunner, 'save',
                        lambda runner, epoch: saved.append(epoch) or save(runner, epoch))
    with pytest.raises(stopping.Stopped):
        attempt(monkeypatch, tmp_path / 'stopped', toy)
    monkeypatch.undo()
    assert saved == [0, 1, 2]  # the dumped epoch was saved; none after it
    (stopped,) = (tmp_path / 'stopped').glob('data/local/experiment/*')
    assert '"status": "interrupted"' in (stopped / 'metadata.json').read_text()
    resumed = attempt(monkeypatch, tmp_path / 'resumed', toy, resume_from=tmp_path / 'stopped')
    assert outputs(resumed) == outputs(full)


def test_without_a_usable_snapshot_it_starts_afresh_and_says_why(tmp_path, monkeypatch):
    toy = make_toy('none')
    full = attempt(monkeypatch, tmp_path / 'full', toy)
    resumed = attempt(monkeypatch, tmp_path / 'resumed', toy, resume_from=tmp_path / 'full')
    assert outputs(resumed) == outputs(full)
    assert 'No snapshot to resume from' in (resumed / 'debug.log').read_text()
    assert (resumed / 'debug.log').read_text().count('Logging to') == 1  # nothing copied
    # a snapshot that records no log outputs (an older repro's): afresh too
    toy = make_toy('last')
    old = attempt(monkeypatch, tmp_path / 'old', toy)
    before = outputs(old)
    snapshot = snapshotter_module.Snapshotter(str(old)).load(str(old))
    del snapshot['log_outputs']
    snapshotter_module.Snapshotter(str(old)).save_itr_params(5, snapshot)
    again = attempt(monkeypatch, tmp_path / 'again', toy, resume_from=tmp_path / 'old')
    assert 'Cannot resume' in (again / 'debug.log').read_text()
    assert outputs(again) == before


def test_a_launcher_without_local_runner_is_unaffected(tmp_path, monkeypatch):
    @wrap_experiment(archive_launch_repo=False)
    def plain(ctxt=None):
        tabular.record('x', 1)
        from repro import logger
        logger.log(tabular)
        logger.dump_all()
        return ctxt.snapshot_dir
    first = attempt(monkeypatch, tmp_path / 'one', plain)
    second = attempt(monkeypatch, tmp_path / 'two', plain, resume_from=tmp_path / 'one')
    assert (second / 'progress.csv').read_text() == (first / 'progress.csv').read_text() \
        == 'x\n1\n'
    assert 'esum' not in (second / 'debug.log').read_text()


LAUNCHER = '''
import os, signal, sys
import numpy as np
from repro import tabular, wrap_experiment
from repro.experiment import LocalRunner, deterministic
sys.path.insert(0, {root!r})
from tests.helpers import NoisyWalk


class Policy:  # defined in __main__: pickled by value, with a class id
    def __init__(self):
        self.bias = np.float64(0.5)

    def get_action(self, obs):
        return int(np.random.random() < self.bias), {{}}


class Algo:
    max_episode_length = 20

    def __init__(self):
        self.policy = Policy()

    def train(self, runner):
        for epoch in runner.step_epochs():
            if epoch == int(os.environ.get('STOP_AT', -1)):
                os.kill(os.getpid(), signal.SIGTERM)
            episodes = runner.obtain_episodes(runner.step_itr)
            self.policy.bias = np.clip(self.policy.bias + np.random.normal() * 0.05, 0.05, 0.95)
            tabular.record('AverageReturn', float(episodes.undiscounted_returns().mean()))
            runner.step_itr += 1


@wrap_experiment(archive_launch_repo=False)
def main_toy(ctxt=None, seed=0):
    runner = LocalRunner(ctxt)
    runner.setup(Algo(), NoisyWalk())
    runner.train(n_epochs=5, batch_size=30)


main_toy()
'''


@pytest.mark.slow
def test_in_separate_processes_with_classes_of_the_launcher(tmp_path):
    """As in a sweep: each attempt is its own ``python -m repro.runtime``, the
    launcher's classes are pickled by value, SIGTERM stops the first attempt
    (exit code 143) and the second resumes; its snapshot is byte for byte
    that of an uninterrupted run in a third process."""
    launcher = tmp_path / 'launch.py'
    launcher.write_text(LAUNCHER.format(root=str(ROOT)))

    def run(name, **env):
        where = tmp_path / name
        where.mkdir()
        result = subprocess.run(
            [sys.executable, '-m', 'repro.runtime', str(launcher)], cwd=where,
            capture_output=True, text=True, timeout=120,
            env={**os.environ, 'PYTHONHASHSEED': '0', contract.ENV_SEED: '3', **env})
        (log_dir,) = where.glob('data/local/experiment/*')
        return result, log_dir

    first, full = run('full')
    assert first.returncode == 0, first.stderr
    stopped, _ = run('stopped', STOP_AT='2')
    assert stopped.returncode == contract.EXIT_STOPPED, stopped.stderr
    assert 'stopped by signal SIGTERM' in stopped.stderr
    done, resumed = run('resumed', **{contract.ENV_RESUME_FROM: str(tmp_path / 'stopped')})
    assert done.returncode == 0, done.stderr
    assert 'Resuming from' in done.stdout
    assert outputs(resumed) == outputs(full)


def test_sigterm_stops_a_plain_script_as_ctrl_c(tmp_path):
    """Without LocalRunner, SIGTERM is a KeyboardInterrupt: ``finally`` runs
    and the runtime exits 143, where PID 1 used to ignore it."""
    script = tmp_path / 'plain.py'
    script.write_text(textwrap.dedent('''
        import os, signal
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            print('not reached')
        finally:
            print('cleaned up')
    '''))
    result = subprocess.run([sys.executable, '-m', 'repro.runtime', str(script)],
                            cwd=tmp_path, capture_output=True, text=True, timeout=60,
                            env={**os.environ, 'PYTHONPATH': str(ROOT)})
    assert result.returncode == contract.EXIT_STOPPED
    assert result.stdout.split() == ['cleaned', 'up']


def test_canonicalize_shares_names_and_dtypes_again():
    import pickle
    fresh = {'rng': {'seed': 1}, 'spaces': [np.dtype('float32')], 'a': np.zeros(2)}
    loaded = canonical.canonicalize(pickle.loads(pickle.dumps(fresh)))
    assert next(iter(loaded['rng'])) is next(iter(fresh['rng']))
    assert loaded['spaces'][0] is np.dtype('float32')
    assert loaded['a'].dtype is np.dtype('float64')
    assert pickle.dumps(loaded) == pickle.dumps(fresh)


def test_class_digest_is_the_same_for_the_same_class_only():
    def make(value):
        class Thing:
            size = value

            def twice(self):
                return 2 * self.size
        return Thing
    assert pickling.class_digest(make(1)) == pickling.class_digest(make(1))
    assert pickling.class_digest(make(1)) != pickling.class_digest(make(2))
