"""The wheel works on its own: built from a copy of this tree, installed in a
plain venv (no system site-packages to hide missing data), it renders the
Dockerfile and runs a script in a container (issue 11)."""
import importlib.util
import os
import shutil
import subprocess
import sys

import pytest

from repro.images import closure
from tests.support import ROOT, git_project, manifest, run_id_of, small_lock_files

pytestmark = [pytest.mark.docker, pytest.mark.slow]

TRAIN = 'import numpy\nprint("sum", int(numpy.arange(4).sum()))\n'


def sh(*args, **kwargs):
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True,
                            timeout=1200, **kwargs)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    return result


@pytest.fixture(scope='module')
def wheel_venv(tmp_path_factory):
    """A fresh venv holding only the wheel and the dependencies pip resolves."""
    tmp = tmp_path_factory.mktemp('wheel')
    src = tmp / 'src'
    for name in ('repro', 'templates'):
        shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns('__pycache__'))
    for name in ('pyproject.toml', 'README.md'):
        shutil.copy(ROOT / name, src / name)
    isolation = [] if importlib.util.find_spec('setuptools') is None else \
        ['--no-build-isolation']  # the venv's setuptools: no download
    sh(sys.executable, '-m', 'pip', 'wheel', '--no-deps', *isolation, '-w', tmp / 'dist', src)
    (wheel,) = (tmp / 'dist').glob('repro-*.whl')
    sh(sys.executable, '-m', 'venv', tmp / 'v')
    sh(tmp / 'v' / 'bin' / 'pip', 'install', '--disable-pip-version-check', wheel)
    return tmp / 'v'


def test_installed_wheel_builds_and_runs(wheel_venv, tmp_path, base_image):
    project = git_project(tmp_path / 'p', {**small_lock_files('wheel'), 'train.py': TRAIN})
    env = {k: v for k, v in os.environ.items() if k not in ('PYTHONPATH', 'REPRO_TEMPLATES')}
    env['REPRO_HOME'] = str(tmp_path / 'store')
    where = sh(wheel_venv / 'bin' / 'python', '-c', 'import repro; print(repro.__file__)',
               cwd=project, env=env).stdout
    assert where.startswith(str(wheel_venv))  # the wheel, not this checkout

    dry = sh(wheel_venv / 'bin' / 'repro', 'build', '--dry-run', cwd=project, env=env).stdout
    assert dry == sh(sys.executable, '-m', 'repro', 'build', '--dry-run', cwd=project).stdout
    assert 'FROM ${BASE}' in dry

    ran = sh(wheel_venv / 'bin' / 'repro', 'run', 'train.py', cwd=project, env=env)
    run_id, status = run_id_of(ran)
    assert status == 'succeeded' and 'sum 6' in ran.stdout
    recorded = manifest(tmp_path / 'store', run_id)
    assert recorded['image']['closure'] == closure.closure_id(closure.runtime_files())
