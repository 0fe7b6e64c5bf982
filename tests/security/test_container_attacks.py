"""A hostile launcher in a real container, then every command on its run.

The launcher writes what an attacker would: a pickle whose unpickling runs
a shell command, links from its outputs to a host file, a FIFO, a name that
is not UTF-8, a forged runtime report. The project lives in a directory
whose name holds a ``:``. Nothing on the host may be read, written or
executed through any of it.
"""
import json
import os
import subprocess
import sys

import pytest

from tests.support import git_project, run_id_of, small_lock_files

pytestmark = pytest.mark.docker

HOSTILE = r'''
import os, pickle, sys
import helper
secret, sentinel = sys.argv[1], sys.argv[2]

class Evil:
    def __reduce__(self):  # unpickling this runs a command where it is unpickled
        return (os.system, (f'touch {sentinel}',))

os.makedirs('out', exist_ok=True)
with open('out/params.pkl', 'wb') as f:
    pickle.dump({'evil': Evil(), 'nonce': os.urandom(8)}, f)
os.symlink(secret, 'out/progress.csv')                # read by diff/plot if followed
os.makedirs('.repro', exist_ok=True)
if os.path.exists('.repro/determinism.json'):
    os.unlink('.repro/determinism.json')
os.symlink(secret, '.repro/determinism.json')         # the runtime report, forged
os.mkfifo('out/pipe')                                 # blocks any reader
with open(b'out/caf\xe9.txt', 'wb') as f:             # not UTF-8
    f.write(b'x')
for target in ('/repro/meta/source.diff', '/src/helper.py'):
    try:
        open(target, 'w').write('forged')
        print('WROTE', target)
    except OSError:
        pass
helper.hello()
'''


def repro(project, *args, timeout=600):
    """`repro ARGS` in ``project``; a hang (FIFO) fails the test, not CI."""
    return subprocess.run([sys.executable, '-m', 'repro', *map(str, args)], cwd=project,
                          env=dict(os.environ, REPRO_HOME=str(project / '.repro')),
                          capture_output=True, text=True, timeout=timeout)


def no_traceback(result):
    assert 'Traceback' not in result.stderr, result.stderr[-3000:]


@pytest.fixture(scope='module')
def hostile(tmp_path_factory, base_image):
    root = tmp_path_factory.mktemp('attack')
    secret = root / 'secret.txt'
    secret.write_text('Epoch,Loss\nHOST-SECRET-51c3,1\n')
    sentinel = root / 'pwned'
    project = git_project(root / 'proj:ect', {
        **small_lock_files('security-hostile'), 'hostile.py': HOSTILE,
        'helper.py': 'def hello():\n    print("RAN-ORIGINAL")\n'})
    result = repro(project, 'run', 'hostile.py', '--', secret, sentinel)
    no_traceback(result)
    run_id, status = run_id_of(result)
    return project, secret, sentinel, run_id, status, result


def test_the_run_is_recorded_and_nothing_escaped(hostile):
    project, secret, sentinel, run_id, status, result = hostile
    assert status == 'succeeded', result.stderr[-2000:]
    assert 'RAN-ORIGINAL' in result.stdout and 'WROTE' not in result.stdout
    text = (project / '.repro' / 'runs' / run_id / 'manifest.json').read_text()
    data = json.loads(text)
    assert 'HOST-SECRET' not in text and data['determinism'].get('seed') == 0
    kinds = {a['path']: a.get('type', 'file') for a in data['artifacts']}
    assert kinds['outputs/out/progress.csv'] == 'link'
    assert kinds['outputs/out/pipe'] == 'fifo'
    assert kinds['outputs/.repro/determinism.json'] == 'file'  # the runtime replaced the link
    assert 'outputs/out/caf\\xe9.txt' in kinds
    verify = repro(project, 'verify', run_id)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert 'HOST-SECRET' not in verify.stdout
    assert not sentinel.exists()


def test_replay_diff_and_plot_never_read_through_links_or_unpickle(hostile):
    project, secret, sentinel, run_id, _, _ = hostile
    replay = repro(project, 'replay', run_id, timeout=900)
    no_traceback(replay)
    assert replay.returncode in (0, 4), replay.stdout[-2000:] + replay.stderr[-2000:]
    assert not sentinel.exists(), 'a pickle from the run was unpickled on the host'
    assert 'HOST-SECRET' not in replay.stdout + replay.stderr
    new_id = [ln for ln in replay.stdout.splitlines() if ln.startswith('run ')][-1].split()[1]
    diff = repro(project, 'diff', run_id, new_id, timeout=120)
    no_traceback(diff)
    assert 'HOST-SECRET' not in diff.stdout + diff.stderr
    plot = repro(project, 'plot', run_id, '--metric', 'Loss', '-o',
                 project.parent / 'curve.png', timeout=120)
    no_traceback(plot)
    assert 'HOST-SECRET' not in plot.stdout + plot.stderr
    assert secret.read_text().startswith('Epoch,Loss\n')  # never written either
    assert not sentinel.exists()


def test_an_edited_exported_tree_is_never_run(hostile):
    """An edit to the store's exported source is caught before the next run."""
    project, secret, sentinel, run_id, _, _ = hostile
    tree = json.loads((project / '.repro' / 'runs' / run_id / 'manifest.json')
                      .read_text())['git']['tree']
    helper = project / '.repro' / 'src' / tree / 'helper.py'
    helper.chmod(0o644)
    helper.write_text('def hello():\n    print("RAN-EDITED")\n')
    result = repro(project, 'run', 'hostile.py', '--', secret, sentinel)
    no_traceback(result)
    assert 'RAN-ORIGINAL' in result.stdout and 'RAN-EDITED' not in result.stdout
