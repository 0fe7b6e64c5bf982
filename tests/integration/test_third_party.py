"""Real training scripts nobody here wrote the style of, run and replayed.

``cleanrl_style.py`` is written the way the popular single-file RL scripts
are: a TensorBoard run directory named with ``int(time.time())``, an SPS
scalar beside the learned ones, a torch model, an ``.npz`` and a zip with
wall-clock member timestamps. ``sb3_ppo.py`` trains with stable-baselines3
installed from the lock, unmodified: progress.csv, TensorBoard events and a
model ``.zip``. Both must replay as REPRODUCED.
"""
import json

import pytest

from tests.support import ROOT, git_project, repro, run_id_of

pytestmark = [pytest.mark.docker, pytest.mark.slow]
FIXTURE = ROOT / 'tests' / 'fixtures' / 'rlscripts'


@pytest.fixture(scope='module')
def rl_project(tmp_path_factory, base_image):
    names = ('requirements.in', 'requirements.lock', 'cleanrl_style.py', 'sb3_ppo.py')
    return git_project(tmp_path_factory.mktemp('rl') / 'project',
                       {name: (FIXTURE / name).read_text() for name in names})


def run_and_replay(project, home, script, *extra):
    result = repro('run', script, '--seed', '3', '--', '--seed', '{seed}', *extra,
                   cwd=project, home=home)
    run_id, status = run_id_of(result)
    assert status == 'succeeded', result.stderr[-3000:]
    replay = repro('replay', run_id, '--json', cwd=project, home=home, check=False)
    assert 'Traceback' not in replay.stderr, replay.stderr[-3000:]
    verdict = json.loads(replay.stdout[replay.stdout.index('{'):])
    return run_id, replay, verdict


def test_cleanrl_style_script_is_reproduced(rl_project, tmp_path):
    run_id, replay, verdict = run_and_replay(rl_project, tmp_path / 'store',
                                             'cleanrl_style.py')
    assert replay.returncode == 0, json.dumps(verdict, indent=1)[-3000:]
    assert verdict['verdict'] == 'REPRODUCED'
    assert any(t['metric'] == 'charts/SPS' for t in verdict['timing'])
    manifest = json.loads((tmp_path / 'store' / 'runs' / run_id / 'manifest.json')
                          .read_text())
    assert manifest['args'] == ['--seed', '3'] and manifest['hostname'] == 'repro'


def test_stable_baselines3_is_reproduced(rl_project, tmp_path):
    _, replay, verdict = run_and_replay(rl_project, tmp_path / 'store', 'sb3_ppo.py')
    assert replay.returncode == 0, json.dumps(verdict, indent=1)[-3000:]
    assert verdict['verdict'] == 'REPRODUCED'
    timing = {t['metric'] for t in verdict['timing']}
    assert {'time/fps', 'time/time_elapsed'} <= timing
