"""`repro run`/`build` refuse bad input with one line, before touching Docker."""
import os
import shutil
import subprocess
import sys

import pytest

from repro.record.config import ImageConfig, load_config
from repro.errors import ConfigError
from tests.conftest import ROOT
from tests.helpers import one_line_error


def repro(*args, cwd, env=None):
    return subprocess.run([sys.executable, '-m', 'repro', *args], cwd=cwd,
                          capture_output=True, text=True, env={**os.environ, **(env or {})})


@pytest.fixture
def project(tmp_path):
    root = tmp_path / 'proj'
    root.mkdir()
    subprocess.run(['git', 'init', '-q', str(root)], check=True)
    (root / 'train.py').write_text('print("hi")\n')
    shutil.copy(ROOT / 'requirements.in', root)
    shutil.copy(ROOT / 'requirements.lock', root)
    return root


def test_launcher_missing(project):
    one_line_error(repro('run', 'nope.py', cwd=project), 'launcher not found')


def test_not_a_git_repository(tmp_path):
    (tmp_path / 'train.py').write_text('')
    one_line_error(repro('run', 'train.py', cwd=tmp_path), 'not inside a git repository')


def test_lock_missing(project):
    (project / 'requirements.lock').unlink()
    one_line_error(repro('run', 'train.py', cwd=project), 'missing', 'repro lock')


def test_lock_stale(project):
    with open(project / 'requirements.in', 'a') as f:
        f.write('six\n')
    one_line_error(repro('run', 'train.py', cwd=project), 'stale', 'repro lock')


@pytest.mark.parametrize('seed', ['-1', 'abc', '1.5'])
def test_invalid_seed(project, seed):
    result = repro('run', 'train.py', '--seed', seed, cwd=project)
    assert result.returncode == 2 and 'Traceback' not in result.stderr
    assert 'seed' in result.stderr.lower()


def test_docker_unreachable_says_how_to_start_it(project, tmp_path):
    result = repro('run', 'train.py', cwd=project,
                   env={'DOCKER_HOST': f'unix://{tmp_path}/no.sock', 'REPRO_HOME': str(tmp_path)})
    one_line_error(result, 'cannot reach the Docker daemon', 'dockerd')
    assert not (tmp_path / 'runs').exists()  # nothing half-written


def test_dry_run_renders_the_committed_dockerfile():
    result = repro('build', '--dry-run', cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout == (ROOT / 'Dockerfile').read_text()


def test_config_defaults_and_validation(tmp_path):
    assert load_config(str(tmp_path)) == ImageConfig()
    (tmp_path / 'pyproject.toml').write_text(
        '[tool.repro]\nbase = "my/base:1"\nenv = { OMP_NUM_THREADS = "1" }\n')
    config = load_config(str(tmp_path))
    assert config.base == 'my/base:1' and config.env == (('OMP_NUM_THREADS', '1'),)
    for bad in ('template = "tpu"', 'colour = "red"', 'env = { "1X" = "a" }',
                'python = "three"'):
        (tmp_path / 'pyproject.toml').write_text(f'[tool.repro]\n{bad}\n')
        with pytest.raises(ConfigError):
            load_config(str(tmp_path))


@pytest.mark.parametrize('pyproject', [
    '[tool]\nrepro = 5\n', 'tool = "x"\n', '[tool.repro]\nbase = 5\n', '[tool.repro]\nbase = ""\n',
])
def test_bad_tool_repro_sections_are_config_errors(tmp_path, pyproject):
    (tmp_path / 'pyproject.toml').write_text(pyproject)
    with pytest.raises(ConfigError):
        load_config(str(tmp_path))


def test_non_utf8_inputs_are_one_line_errors(project):
    (project / 'pyproject.toml').write_bytes(b'[tool.repro]\nbase = "\xff"\n')
    one_line_error(repro('run', 'train.py', cwd=project), 'pyproject.toml')
    (project / 'pyproject.toml').unlink()
    (project / 'requirements.in').write_bytes(b'numpy\n\xff\n')
    one_line_error(repro('run', 'train.py', cwd=project), 'not UTF-8')
    one_line_error(repro('lock', cwd=project), 'not UTF-8')


def test_lock_without_the_runtime_packages_is_refused(project):
    from repro.record.locking import input_sha256
    text = (project / 'requirements.in').read_text()
    (project / 'requirements.lock').write_text(
        f'# repro-lock-input-sha256: {input_sha256(text)}\nsix==1.16.0 --hash=sha256:x\n')
    one_line_error(repro('run', 'train.py', cwd=project), 'lacks numpy, cloudpickle')


def test_dependencies_must_be_strings(tmp_path):
    from repro.errors import LockError
    from repro.record.locking import lock_inputs
    (tmp_path / 'pyproject.toml').write_text('[project]\nname = "x"\ndependencies = [1]\n')
    with pytest.raises(LockError, match='list of strings'):
        lock_inputs(str(tmp_path))


def test_directory_as_launcher(project):
    (project / 'sub').mkdir()
    one_line_error(repro('run', 'sub', cwd=project), 'is a directory')


def test_env_values_survive_the_dockerfile_round_trip():
    from repro.images.dockerfile import image_settings, read_template, render_dockerfile
    env = (('A', 'x y'), ('B', '$HOME'), ('C', 'a"b\\c'), ('D', 'plain'))
    text = render_dockerfile(read_template('cpu'), 'b', '3.11', 'requirements.lock', env)
    assert image_settings(text)[0][-4:] == ['A=x y', 'B=$HOME', 'C=a"b\\c', 'D=plain']
