"""Shared fixtures: every test runs in its own directory with fresh globals."""
import importlib.util
import pathlib
import sys

import pytest
import os

from repro.experiment import deterministic
from repro.log import logger, tabular
from tests.helpers import git

ROOT = pathlib.Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    """cwd in a temp dir (data/local lands there) and no leftover seed/logs."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(deterministic, '_seed', None)
    monkeypatch.setattr(deterministic, '_record', {})
    monkeypatch.delenv('CUBLAS_WORKSPACE_CONFIG', raising=False)
    yield
    logger.remove_all()
    tabular.clear()
    while logger._prefixes:
        logger.pop_prefix()


def load_example(name):
    """Import examples/<name>.py as a module (examples are not a package)."""
    module_name = f'repro_example_{name}'
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, ROOT / 'examples' / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


def read_bytes(path):
    return pathlib.Path(path).read_bytes()


def only_dir(parent):
    """The single sub-directory of ``parent`` (an experiment's log dir)."""
    dirs = [p for p in pathlib.Path(parent).iterdir() if p.is_dir()]
    assert len(dirs) == 1, dirs
    return dirs[0]




# -- Docker-backed tests (integration/, reliability/): skip without an engine ---
@pytest.fixture(scope='session')
def engine():
    from repro.engines.dockerengine import DockerEngine
    from repro.errors import EngineError
    try:
        return DockerEngine.connect()
    except EngineError as exc:
        pytest.skip(f'no Docker Engine: {exc}')


@pytest.fixture(scope='session')
def base_image(engine):
    """The image `repro base` made (.ci/run makes it before the tests)."""
    from repro.images.base import TAG
    image_id = engine.image_id(TAG)
    if image_id is None:
        pytest.skip(f'base image {TAG} missing: run `repro base` first')
    return TAG, image_id


@pytest.fixture(scope='module')
def probe_project(tmp_path_factory, base_image):
    """A repository holding only a probe script and its lock (no pyproject.toml)."""
    from tests.support import PROBE, git_project, lock_files
    return git_project(tmp_path_factory.mktemp('probe') / 'p',
                       {**lock_files(), 'probe.py': PROBE})


@pytest.fixture
def fake_sweep_root(tmp_path, monkeypatch):
    """A committed project whose image the fake engine has (tests/fakes.py),
    with its own store and image cache, and no reaper processes."""
    from tests.fakes import fake_project
    return fake_project(tmp_path, monkeypatch)


@pytest.fixture
def repo(tmp_path):
    root = tmp_path / 'proj'
    root.mkdir()
    git(root, 'init', '-q', '-b', 'main')
    git(root, 'config', 'user.email', 't@example.com')
    git(root, 'config', 'user.name', 'T')
    (root / '.gitignore').write_text('ignored.txt\n.repro/\n')
    (root / 'train.py').write_text('print(1)\n')
    (root / 'run.sh').write_text('#!/bin/sh\n')
    os.chmod(root / 'run.sh', 0o755)
    git(root, 'add', '.')
    git(root, 'commit', '-qm', 'init')
    git(root, 'remote', 'add', 'origin', 'https://user:ghp_SECRET123@github.com/o/r.git')
    return root
