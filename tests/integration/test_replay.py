"""`repro replay` in real containers: REPRODUCED, DIVERGED, rebuilt images."""
import shutil
import subprocess

import pytest

from tests.support import ROOT, manifest, repro, run_id_of

pytestmark = pytest.mark.docker


def replay(run_id, home, cwd=ROOT):
    return repro('replay', run_id, cwd=cwd, home=home, check=False)


@pytest.mark.parametrize('example', ['cartpole_cem', 'cartpole_vpg'])
def test_examples_replay_bit_for_bit(tmp_path, base_image, example):
    home = tmp_path / 'store'
    run_id, _ = run_id_of(repro('run', f'examples/{example}.py', '--seed', '1', '--',
                                '--n-epochs', '2', home=home))
    result = replay(run_id, home)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1].startswith('REPRODUCED')
    new_id = result.stdout.strip().splitlines()[-2].split()[1]
    new = manifest(home, new_id)
    assert new['replay_of'] == run_id and new['seed'] == 1
    assert new['args'] == ['--n-epochs', '2']
    # Also after the image is gone: rebuilt to the recorded ID, then reproduced.
    import docker
    docker.from_env().images.remove(manifest(home, run_id)['image']['id'], force=True)
    again = replay(run_id, home)
    assert again.returncode == 0, again.stderr[-2000:]
    assert 'rebuilding it from the recorded inputs' in again.stderr
    assert again.stdout.strip().splitlines()[-1].startswith('REPRODUCED')


NOISY = '''
import os, struct
from repro import logger, tabular, wrap_experiment
@wrap_experiment(archive_launch_repo=False)
def noisy(ctxt=None, seed=0):
    for epoch in range(5):
        tabular.record('Epoch', epoch)
        tabular.record('Steady', epoch * 2)
        noise = struct.unpack('<I', os.urandom(4))[0] if epoch >= 3 else 0
        tabular.record('Noise', noise)
        logger.log(tabular)
        logger.dump_all(epoch)
        tabular.clear()

noisy()
'''

PLAIN_TB = '''
import argparse, datetime, os
from repro.log.tensorboard import EventFileWriter

parser = argparse.ArgumentParser()
parser.add_argument('--steps', type=int, default=4)
args = parser.parse_args()
logdir = os.path.join('runs', datetime.datetime.now().strftime('%Y%m%d-%H%M%S-%f'))
writer = EventFileWriter(logdir)
for step in range(args.steps):
    writer.add_scalars({'loss': 1.0 / (step + 1)}, step)
writer.close()
print('wrote', logdir)
'''


@pytest.fixture(scope='module')
def project(tmp_path_factory, base_image):
    root = tmp_path_factory.mktemp('replayproj')
    for name in ('requirements.in', 'requirements.lock'):
        shutil.copy(ROOT / name, root)
    (root / 'noisy.py').write_text(NOISY)
    (root / 'plain_tb.py').write_text(PLAIN_TB)
    for args in (['init', '-q'], ['add', '.'],
                 ['-c', 'user.name=t', '-c', 'user.email=t@e', 'commit', '-qm', 'p']):
        subprocess.run(['git', '-C', str(root), *args], check=True)
    return root


def test_injected_nondeterminism_is_diverged_with_file_epoch_and_metric(project, tmp_path):
    home = tmp_path / 'store'
    run_id, _ = run_id_of(repro('run', 'noisy.py', cwd=project, home=home))
    result = replay(run_id, home, cwd=project)
    assert result.returncode == 4, result.stderr[-2000:]
    verdict = result.stdout.strip().splitlines()[-1]
    assert verdict.startswith('DIVERGED: ') and 'progress.csv' in verdict
    assert 'epoch 3' in verdict and 'metric Noise' in verdict


def test_plain_script_with_timestamped_tensorboard_dir_reproduces(project, tmp_path):
    home = tmp_path / 'store'
    run_id, _ = run_id_of(repro('run', 'plain_tb.py', '--', '--steps', '5', cwd=project,
                                home=home))
    result = replay(run_id, home, cwd=project)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert 'REPRODUCED' in result.stdout


def test_replay_after_the_image_was_deleted_rebuilds_the_same_id(project, tmp_path, engine):
    home = tmp_path / 'store'
    run_id, _ = run_id_of(repro('run', 'plain_tb.py', cwd=project, home=home))
    image_id = manifest(home, run_id)['image']['id']
    engine.remove_image(image_id)
    result = replay(run_id, home, cwd=project)
    assert result.returncode == 0, result.stderr[-2000:]
    assert 'rebuilding it from the recorded inputs' in result.stderr
    assert engine.image_id(image_id) == image_id
