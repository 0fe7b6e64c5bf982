"""Issue 13 in real containers: a sweep member stopped mid-training continues
in its next attempt (``repro sweep resume``) and ends with the progress.csv
and snapshot of an uninterrupted run, byte for byte; its replay reproduces.

The member is stopped as ``docker stop`` stops it (SIGTERM to the
container's PID 1, the runtime), but by itself at a chosen epoch, so the
test waits on nothing: ``cem_stopping.py`` runs the CEM example and, in a
first attempt (no earlier outputs mounted) of the seed named in the
snapshot's ``STOP_ONCE`` file, signals itself at the start of epoch 2.
"""
import json

import pytest

from tests.support import ROOT, check_manifest, git_project, lock_files, manifest, repro, \
    run_id_of

pytestmark = [pytest.mark.docker]

STOPPING = '''
import os, runpy, signal, sys
from repro.experiment import LocalRunner

here = os.path.dirname(os.path.abspath(__file__))
stop = os.path.join(here, 'STOP_ONCE')
if os.path.exists(stop) and not os.environ.get('REPRO_RESUME_FROM') \\
        and sys.argv[sys.argv.index('--seed') + 1] == open(stop).read().strip():
    steps = LocalRunner.step_epochs

    def step_epochs(runner):
        for epoch in steps(runner):
            if epoch == 2:
                os.kill(os.getpid(), signal.SIGTERM)  # what docker stop sends PID 1
            yield epoch
    LocalRunner.step_epochs = step_epochs
runpy.run_path(os.path.join(here, 'cem.py'), run_name='__main__')
'''


def snapshot_files(home, run_id):
    (log_dir,) = (home / 'runs' / run_id / 'outputs').glob('data/local/experiment/*')
    return log_dir, {p.name: p.read_bytes() for p in sorted(log_dir.iterdir())
                     if p.name in ('progress.csv', 'params.pkl')}


def test_a_stopped_member_resumes_to_the_bytes_of_an_uninterrupted_run(tmp_path, base_image):
    project = git_project(tmp_path / 'proj', {
        **lock_files(), 'cem.py': (ROOT / 'examples' / 'cartpole_cem.py').read_text(),
        'cem_stopping.py': STOPPING, 'STOP_ONCE': '1\n'})
    home = tmp_path / 'home'
    args = ('--seeds', '0-1', '--', '--seed', '{seed}', '--n-epochs', '4')
    first = repro('sweep', 'cem_stopping.py', *args, cwd=project, home=home, check=False)
    last = first.stdout.strip().splitlines()[-1].split()
    assert first.returncode != 0 and last[0] == 'sweep' and last[2] == '1/2', first.stdout
    sweep_id = last[1]
    resumed = repro('sweep', 'resume', sweep_id, cwd=project, home=home)
    assert resumed.stdout.strip().splitlines()[-1] == f'sweep {sweep_id} 2/2 succeeded'

    status = json.loads(repro('sweep', 'status', sweep_id, '--json', cwd=project,
                              home=home).stdout)['members']
    assert [m['attempts'] for m in status] == [1, 2]
    stopped_id = next(r for r in (home / 'runs').iterdir()
                      if manifest(home, r.name).get('sweep', {}).get('index') == 1
                      and manifest(home, r.name)['status'] != 'succeeded').name
    stopped, attempt = manifest(home, stopped_id), manifest(home, status[1]['run_id'])
    assert stopped['exit_code'] == 143 and stopped['status'] == 'failed'
    assert attempt['resumed_from'] == stopped_id and attempt['sweep']['attempt'] == 2
    assert attempt['env']['REPRO_RESUME_FROM'] == '/repro/resume'
    check_manifest(home, attempt)
    log_dir, resumed_files = snapshot_files(home, attempt['run_id'])
    log = (log_dir / 'debug.log').read_text()
    assert 'stopped by signal SIGTERM' in (home / 'runs' / stopped_id / 'logs' /
                                           'stdout.log').read_text()
    assert 'epoch 1 was the last one saved' in log
    assert resumed_files['progress.csv'].count(b'\n') == 5  # header + 4 epochs, none twice

    # the same member, uninterrupted: the stop file gone from the snapshot
    (project / 'STOP_ONCE').unlink()
    git_project(project, {})
    alone = repro('run', 'cem_stopping.py', '--seed', '1', '--threads', '1', '--', '--seed',
                  '1', '--n-epochs', '4', cwd=project, home=home)
    alone_id, alone_status = run_id_of(alone)
    assert alone_status == 'succeeded'
    assert snapshot_files(home, alone_id)[1] == resumed_files

    replayed = repro('replay', attempt['run_id'], cwd=project, home=home)
    assert replayed.stdout.strip().splitlines()[-1].startswith('REPRODUCED')
    replay_id = next(r.name for r in (home / 'runs').iterdir()
                     if manifest(home, r.name).get('replay_of') == attempt['run_id'])
    assert manifest(home, replay_id)['resumed_from'] == stopped_id
    assert snapshot_files(home, replay_id)[1] == resumed_files
