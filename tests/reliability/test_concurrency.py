"""Eight `repro run` at once on one project: one build, eight valid runs."""
import os
import subprocess
import sys

import pytest

from tests.support import check_manifest, git_project, lock_files, manifest, run_id_of

pytestmark = pytest.mark.docker


def test_eight_parallel_runs_build_once(tmp_path, base_image):
    import uuid
    # A fresh key (extra env), so the eight runs race to build the same image.
    root = git_project(tmp_path / 'parallel', {
        **lock_files(),
        'pyproject.toml': f'[tool.repro]\nenv = {{ REPRO_TEST_KEY = "{uuid.uuid4().hex}" }}\n',
        'trivial.py': 'import os\nprint(os.environ["REPRO_TEST_KEY"])\n'})
    home = tmp_path / 'store'
    env = dict(os.environ, REPRO_HOME=str(home))
    procs = [subprocess.Popen([sys.executable, '-m', 'repro', 'run', 'trivial.py', '--seed',
                               str(i)], cwd=root, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for i in range(8)]
    outputs = [p.communicate(timeout=900) for p in procs]
    assert [p.returncode for p in procs] == [0] * 8, [e[-500:] for _, e in outputs]
    ids = {run_id_of(out)[0] for out, _ in outputs}
    assert len(ids) == 8
    assert sum('building image' in err for _, err in outputs) == 1
    images = {manifest(home, i)['image']['id'] for i in ids}
    assert len(images) == 1
    for run_id in ids:
        check_manifest(home, manifest(home, run_id))
