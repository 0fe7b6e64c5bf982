"""Shared fixtures: every test runs in its own directory with fresh globals."""
import importlib.util
import pathlib
import sys

import pytest

from repro.experiment import deterministic
from repro.log import logger, tabular

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


