"""`repro gc`, `rm` and `du` against the real engine, concurrently with real runs.

Everything runs on a store and a cache of its own (REPRO_HOME, REPRO_CACHE),
so gc can only ever see, and remove, the images this test built.
"""
import os
import subprocess
import sys
import time
import uuid

import pytest

from tests.support import git_project, manifest, run_id_of, small_lock_files

pytestmark = pytest.mark.docker


def start(args, cwd, env):
    return subprocess.Popen([sys.executable, '-m', 'repro', *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def repro(*args, cwd, env):
    """`repro ARGS` with this test's own store and cache (never the machine's)."""
    result = subprocess.run([sys.executable, '-m', 'repro', *args], cwd=cwd, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    return result


def test_gc_runs_beside_runs_and_frees_only_what_they_do_not_use(engine, base_image,
                                                                    tmp_path):
    home, cache = tmp_path / 'store', tmp_path / 'cache'
    env = dict(os.environ, REPRO_HOME=str(home), REPRO_CACHE=str(cache))
    root = git_project(tmp_path / 'p', {**small_lock_files(f'gc {uuid.uuid4().hex}'),
                                        'train.py': 'import sys\nprint(sys.argv)\n'})
    spare = git_project(tmp_path / 'spare', small_lock_files(f'spare {uuid.uuid4().hex}'))
    used = repro('build', cwd=root, env=env).stdout.split()[1]
    unused = repro('build', cwd=spare, env=env).stdout.split()[1]
    try:
        old = time.time() - 7200  # used two hours ago: no run can be starting with it
        for record in (cache / 'images').iterdir():
            os.utime(record, (old, old))
        first = run_id_of(repro('run', 'train.py', cwd=root, env=env))[0]
        (root / 'train.py').write_text('import sys\nprint(sys.argv, 2)\n')  # first's tree: garbage
        repro('rm', first, cwd=root, env=env)
        runs = [start(['run', 'train.py', '--seed', str(i)], root, env) for i in range(3)]
        gc = [start(['gc', '--yes', '--keep-images', '0'], root, env) for _ in range(2)]
        outputs = [p.communicate(timeout=600) for p in runs + gc]
        assert [p.returncode for p in runs + gc] == [0] * 5, [e[-800:] for _o, e in outputs]
        assert engine.image_id(unused) is None and engine.image_id(used) == used
        ids = [run_id_of(out)[0] for out, _err in outputs[:3]]
        for run_id in ids:
            assert manifest(home, run_id)['status'] == 'succeeded'
            repro('verify', run_id, cwd=root, env=env)
        repro('verify', '--store', cwd=root, env=env)
        du = repro('du', cwd=root, env=env).stdout
        assert used[:19] in du and unused[:19] not in du and '3 run(s)' in du
        again = repro('gc', cwd=root, env=env).stdout
        assert again.splitlines()[0].startswith('would free') and 'images' not in again
    finally:
        for image in (used, unused):
            engine.remove_image(image)  # this test's own images
