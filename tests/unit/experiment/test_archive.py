import json
import subprocess
import tarfile
import textwrap

import pytest

from repro.experiment import launch

pytestmark = pytest.mark.skipif(
    subprocess.run(['git', '--version'], capture_output=True).returncode != 0,
    reason='git not installed')


def git(cwd, *args):
    subprocess.run(['git', '-C', str(cwd), *args], check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path):
    root = tmp_path / 'proj'
    root.mkdir()
    git(root, 'init', '-q')
    git(root, 'config', 'user.email', 't@example.com')
    git(root, 'config', 'user.name', 'T')
    (root / '.gitignore').write_text('ignored.txt\ndata/\n')
    (root / 'tracked.py').write_text('x = 1\n')
    launcher = root / 'launch.py'
    launcher.write_text(textwrap.dedent('''
        from repro import wrap_experiment, logger
        @wrap_experiment(log_dir=LOG_DIR)
        def exp(ctxt=None, seed=0):
            logger.log('hi')
    '''))
    git(root, 'add', '.')
    git(root, 'commit', '-qm', 'init')
    (root / 'untracked.py').write_text('y = 2\n')
    (root / 'ignored.txt').write_text('secret-ish\n')
    return root


def run_launcher(root, log_dir):
    code = (root / 'launch.py').read_text().replace('LOG_DIR', repr(str(log_dir)))
    namespace = {'__file__': str(root / 'launch.py'), '__name__': 'launch'}
    exec(compile(code, str(root / 'launch.py'), 'exec'), namespace)
    namespace['exp']()


def archive_names(log_dir):
    with tarfile.open(log_dir / 'launch_archive.tar.xz') as tar:
        return sorted(tar.getnames())


def test_archive_has_tracked_and_untracked_but_not_ignored(repo):
    log_dir = repo / 'data' / 'run'
    run_launcher(repo, log_dir)
    assert archive_names(log_dir) == ['.gitignore', 'launch.py', 'tracked.py', 'untracked.py']
    meta = json.loads((log_dir / 'metadata.json').read_text())
    assert meta['launcher'] == 'launch.py'
    assert meta['git']['dirty'] is False  # untracked files do not make it dirty
    head = subprocess.run(['git', '-C', str(repo), 'rev-parse', 'HEAD'],
                          capture_output=True, text=True).stdout.strip()
    assert meta['git']['commit'] == head
    assert meta['archive']['files'] == 4


def test_modified_tracked_file_marks_dirty(repo):
    (repo / 'tracked.py').write_text('x = 2\n')
    log_dir = repo / 'data' / 'run'
    run_launcher(repo, log_dir)
    meta = json.loads((log_dir / 'metadata.json').read_text())
    assert meta['git']['dirty'] is True
    assert meta['githash'].endswith('-dirty')


def head(repo):
    return subprocess.run(['git', '-C', str(repo), 'rev-parse', 'HEAD'],
                          capture_output=True, text=True, check=True).stdout.strip()


def test_githash_is_head_and_dirty_as_garage_counts_it(repo):
    """garage's get_metadata: ``git rev-parse HEAD`` plus '-dirty' when
    ``git status --short`` prints anything; untracked files count."""
    run_launcher(repo, repo / 'data' / 'run')
    meta = json.loads((repo / 'data' / 'run' / 'metadata.json').read_text())
    assert meta['githash'] == head(repo) + '-dirty'  # untracked.py
    (repo / 'untracked.py').unlink()
    run_launcher(repo, repo / 'results' / 'run')  # not ignored: its own files
    meta = json.loads((repo / 'results' / 'run' / 'metadata.json').read_text())
    assert meta['githash'] == head(repo)  # ...do not make the tree dirty


def test_large_files_are_listed_with_a_warning_not_dropped_silently(repo, monkeypatch):
    monkeypatch.setattr(launch, 'MAX_ARCHIVED_FILE_BYTES', 500)
    (repo / 'big.bin').write_bytes(b'x' * 1000)
    log_dir = repo / 'data' / 'run'
    run_launcher(repo, log_dir)
    assert 'big.bin' not in archive_names(log_dir)
    meta = json.loads((log_dir / 'metadata.json').read_text())
    assert meta['archive']['skipped_large_files'] == [{'path': 'big.bin', 'size': 1000}]
    assert 'not archived' in (log_dir / 'debug.log').read_text()
    assert 'big.bin' in (log_dir / 'debug.log').read_text()


def test_logs_of_earlier_experiments_are_not_archived_again(repo):
    old = repo / 'results' / 'old_run'
    old.mkdir(parents=True)
    for name in ('variant.json', 'metadata.json', 'progress.csv'):
        (old / name).write_text('{}')
    log_dir = repo / 'data' / 'run'
    run_launcher(repo, log_dir)
    assert not [n for n in archive_names(log_dir) if n.startswith('results/')]


def test_outside_a_git_repository_nothing_is_archived(tmp_path):
    assert launch.find_git_root(str(tmp_path)) is None
