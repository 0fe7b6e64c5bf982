"""The Slurm engine's pure parts and its bad input, without a cluster."""
import os
import subprocess
import sys

import pytest

from repro.errors import ConfigError, SlurmError
from repro.execute import slurm
from repro.record.config import slurm_options
from tests.helpers import one_line_error


@pytest.mark.parametrize('indices, cap, spec', [
    (range(6), 2, '0-5%2'), ([1, 4, 5], 0, '1,4-5'), ([3], 0, '3'),
    ([0, 2, 3, 4, 9], 3, '0,2-4,9%3')])
def test_array_spec(indices, cap, spec):
    assert slurm.array_spec(indices, cap) == spec


def test_batch_script_requeues_appends_warns_and_runs_one_member_per_task():
    script = slurm.batch_script(
        sweep_id='20261124-193000-train-3fa2', store_root='/shared/store dir',
        indices=range(4), max_parallel=2, log_dir='/shared/logs',
        options={'partition': 'gpu', 'time': '01:00:00', 'cpus_per_task': 2, 'gres': 'gpu:1',
                 'python': '/opt/venv/bin/python', 'warn_seconds': 90,
                 'extra': ['#SBATCH --qos=low', 'module load cuda']})
    lines = script.splitlines()
    assert lines[0] == '#!/bin/bash'
    for line in ('#SBATCH --array=0-3%2', '#SBATCH --requeue', '#SBATCH --open-mode=append',
                 '#SBATCH --signal=B:USR1@90', '#SBATCH --partition=gpu',
                 '#SBATCH --time=01:00:00', '#SBATCH --cpus-per-task=2',
                 '#SBATCH --gres=gpu:1', '#SBATCH --output=/shared/logs/%A_%a.out',
                 '#SBATCH --qos=low', 'module load cuda'):
        assert line in lines
    # directives come before the first command, or sbatch ignores them
    first_command = next(i for i, ln in enumerate(lines) if ln and not ln.startswith('#'))
    assert all(not ln.startswith('#SBATCH') for ln in lines[first_command + 1:])
    assert lines[-1] == ("exec /opt/venv/bin/python -m repro.execute.slurm task "
                         "'/shared/store dir' 20261124-193000-train-3fa2 "
                         '"$SLURM_ARRAY_TASK_ID"')


@pytest.mark.parametrize('section, message', [
    ('partition = "a b"', 'not one plain word'), ('partition = "x\\n#SBATCH --uid=0"',
                                                 'not one plain word'),
    ('cpus_per_task = 0', 'at least 1'), ('cpus_per_task = "2"', 'must be a int'),
    ('nodes = 3', "unknown [tool.repro.slurm] key 'nodes'"),
    ('extra = ["ok", 3]', 'one-line strings')])
def test_bad_slurm_options_are_one_line_errors(tmp_path, section, message):
    (tmp_path / 'pyproject.toml').write_text(f'[tool.repro.slurm]\n{section}\n')
    with pytest.raises(ConfigError) as err:
        slurm_options(str(tmp_path))
    assert message in str(err.value) and '\n' not in str(err.value)


def test_flags_override_the_config(tmp_path):
    (tmp_path / 'pyproject.toml').write_text('[tool.repro.slurm]\npartition = "a"\ntime = "1"\n')
    assert slurm_options(str(tmp_path), {'partition': 'b', 'time': None}) == \
        {'partition': 'b', 'time': '1'}


def test_no_sbatch_is_a_one_line_error(monkeypatch, tmp_path):
    monkeypatch.setenv('PATH', str(tmp_path))
    with pytest.raises(SlurmError, match='sbatch is not on PATH'):
        slurm.check_available()


def test_a_controller_that_is_down_is_a_one_line_error(monkeypatch, tmp_path):
    for name, body in (('sbatch', 'exit 0'),
                       ('scontrol', 'echo "Slurmctld(primary) at localhost is DOWN"')):
        (tmp_path / name).write_text(f'#!/bin/sh\n{body}\n')
        os.chmod(tmp_path / name, 0o755)
    monkeypatch.setenv('PATH', str(tmp_path))
    with pytest.raises(SlurmError, match='controller is down'):
        slurm.check_available()


def test_the_cli_refuses_slurm_flags_for_the_local_engine(tmp_path):
    result = subprocess.run([sys.executable, '-m', 'repro', 'sweep', 'x.py', '--seeds', '0',
                             '--partition', 'p'], cwd=tmp_path, capture_output=True, text=True)
    one_line_error(result, 'for --engine slurm')


def archive(path, entries):
    import io
    import json
    import tarfile
    data = json.dumps(entries).encode()
    with tarfile.open(path, 'w') as tar:
        info = tarfile.TarInfo('manifest.json')
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return str(path)


@pytest.mark.parametrize('entries, ok', [
    ([{'Config': 'blobs/sha256/' + 'a' * 64, 'RepoTags': None}], True),
    ([{'Config': 'a' * 64 + '.json', 'RepoTags': []}], True),
    ([{'Config': 'a' * 64 + '.json', 'RepoTags': ['repro-base:bookworm']}], False),
    ([{'Config': 'b' * 64 + '.json'}], False),
    ([{'Config': 'a' * 64 + '.json'}, {'Config': 'b' * 64 + '.json'}], False)])
def test_a_stored_archive_must_be_an_untagged_archive_of_the_recorded_image(
        tmp_path, entries, ok):
    from repro.errors import EngineError
    path = archive(tmp_path / 'x.tar', entries)
    if ok:
        slurm._check_archive(path, 'sha256:' + 'a' * 64)
    else:
        with pytest.raises(EngineError, match='not an untagged archive'):
            slurm._check_archive(path, 'sha256:' + 'a' * 64)


def test_an_archive_path_is_made_only_from_an_image_id():
    from repro.errors import EngineError
    with pytest.raises(EngineError, match='not an image id'):
        slurm.image_archive('/store', '../../etc/passwd')


def test_an_array_larger_than_the_cluster_takes_is_refused_first(monkeypatch, tmp_path):
    (tmp_path / 'scontrol').write_text('#!/bin/sh\necho "MaxArraySize            = 1001"\n')
    os.chmod(tmp_path / 'scontrol', 0o755)
    monkeypatch.setenv('PATH', str(tmp_path))
    slurm.check_array_size(1000)
    with pytest.raises(SlurmError, match='at most 1000 tasks'):
        slurm.check_array_size(1001)


def test_the_task_entry_point_flushes_its_error_and_exits_with_its_code(tmp_path):
    """The task freezes its objects before the interpreter's teardown: what it
    printed must still come out, and its exit code is the error's."""
    result = subprocess.run([sys.executable, '-m', 'repro.execute.slurm', 'task',
                             str(tmp_path / 'nowhere'), '20261124-193000-train-3fa2', '0'],
                            capture_output=True, text=True, env=dict(os.environ,
                                                                     SLURMD_NODENAME='n7'))
    one_line_error(result, 'repro: error: the run store', 'not visible on node n7')
    assert result.returncode == ConfigError('x').exit_code
