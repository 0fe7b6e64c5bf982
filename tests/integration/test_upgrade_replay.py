"""A replay after an upgrade of repro rebuilds the recorded image (issue 11).

Each version of repro is a copy of this source tree first on PYTHONPATH (the
tree under test is never edited). The upgrade bumps the package version and
edits a host-only module; the second test edits the library too, so only
the closure the run kept in its store can rebuild the recorded image.
"""
import os
import shutil
import subprocess
import sys

import pytest

from tests.support import ROOT, git_project, manifest, run_id_of, small_lock_files

pytestmark = pytest.mark.docker

TRAIN = '''
from repro import logger, tabular, wrap_experiment
@wrap_experiment(archive_launch_repo=False)
def train(ctxt=None, seed=0):
    import numpy as np
    rng = np.random.default_rng(seed)
    for epoch in range(3):
        tabular.record('Epoch', epoch)
        tabular.record('Value', float(rng.normal()))
        logger.log(tabular)
        logger.dump_all(epoch)
        tabular.clear()

train()
'''


def install(dest, source=ROOT):
    """A copy of repro (package and templates) to put on PYTHONPATH."""
    for name in ('repro', 'templates'):
        shutil.copytree(source / name, dest / name,
                        ignore=shutil.ignore_patterns('__pycache__'))
    return dest


def upgrade(old, new, library_too):
    install(new, old)
    (new / 'repro' / '_version.py').write_text("__version__ = '99.0.0'\n")
    with open(new / 'repro' / 'audit' / 'render.py', 'a') as f:
        f.write('# help text of a newer release\n')
    if library_too:
        with open(new / 'repro' / 'log' / 'logger.py', 'a') as f:
            f.write('# the library changed too\n')
    return new


def repro_from(version, *args, project, home):
    env = dict(os.environ, PYTHONPATH=str(version), REPRO_HOME=str(home))
    return subprocess.run([sys.executable, '-m', 'repro', *args], cwd=project, env=env,
                          capture_output=True, text=True, timeout=1200)


@pytest.mark.parametrize('library_too', [False, True], ids=['host-only', 'library'])
def test_replay_after_an_upgrade_rebuilds_the_recorded_image(tmp_path, engine, base_image,
                                                             library_too):
    project = git_project(tmp_path / 'p', {**small_lock_files('upgrade-replay'),
                                           'train.py': TRAIN})
    home = tmp_path / 'store'
    old = install(tmp_path / 'v1')
    made = repro_from(old, 'run', 'train.py', project=project, home=home)
    assert made.returncode == 0, made.stderr[-3000:]
    run_id, _ = run_id_of(made)
    recorded = manifest(home, run_id)['image']
    engine.remove_image(recorded['id'])

    new = upgrade(old, tmp_path / 'v2', library_too)
    result = repro_from(new, 'replay', run_id, project=project, home=home)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert 'rebuilding it from the recorded inputs' in result.stderr
    assert result.stdout.strip().splitlines()[-1].startswith('REPRODUCED')
    replayed = manifest(home, result.stdout.strip().splitlines()[-2].split()[1])
    assert replayed['repro_version'] == '99.0.0'  # the upgraded repro replayed it
    assert replayed['image']['id'] == recorded['id']
    assert engine.image_id(recorded['id']) == recorded['id']
