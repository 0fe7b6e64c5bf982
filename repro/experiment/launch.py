"""What an experiment records about where it was launched from.

Uses the ``git`` command line, not GitPython: this module runs inside
containers whose packages the user chose, where only numpy and cloudpickle
are guaranteed. Without git, or outside a repository, it records nothing.
"""
import os
import subprocess
import tarfile

# Files larger than this are not put in the launch archive; they are listed
# (path and size) in metadata.json and a warning is logged, never dropped
# silently.
MAX_ARCHIVED_FILE_BYTES = 64 * 1024 * 1024


def _git(root, *args):
    """Run git in ``root``; its stdout (bytes), or None if git fails."""
    try:
        out = subprocess.run(['git', '-C', root, *args], capture_output=True,
                             check=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout


def find_git_root(path):
    """The top of the git work tree containing ``path``, or None."""
    start = path if os.path.isdir(path) else os.path.dirname(os.path.abspath(path))
    out = _git(start, 'rev-parse', '--show-toplevel')
    return out.decode().strip() if out else None


def git_info(root):
    """Commit, branch and dirty flag of the repository at ``root``."""
    commit = _git(root, 'rev-parse', '--verify', '-q', 'HEAD')
    branch = _git(root, 'rev-parse', '--abbrev-ref', 'HEAD')
    status = _git(root, 'status', '--porcelain', '--untracked-files=no')
    return {
        'root': root,
        'commit': commit.decode().strip() if commit else None,
        'branch': branch.decode().strip() if branch else None,
        'dirty': bool(status.strip()) if status is not None else None,
    }


def githash(root, exclude=None):
    """garage's ``githash``: HEAD's commit, plus ``-dirty`` when ``git status
    --short`` lists anything (untracked files too, as garage counts them).

    Unlike garage, the experiment's own log directory (``exclude``), which
    exists by then, does not make the tree dirty.
    """
    head = _git(root, 'rev-parse', '--verify', '-q', 'HEAD')
    if not head:
        return None
    pathspec = []
    if exclude:
        rel = os.path.relpath(os.path.abspath(exclude), root)
        if not rel.startswith(os.pardir):
            pathspec = ['--', '.', f':(exclude){rel}']
    status = _git(root, 'status', '--short', *pathspec)
    dirty = status is None or bool(status.strip())
    return head.decode().strip() + ('-dirty' if dirty else '')


def launch_files(root):
    """Tracked plus untracked-not-ignored files, relative to ``root``, sorted."""
    out = _git(root, 'ls-files', '-z', '--cached', '--others', '--exclude-standard')
    if out is None:
        return []
    names = {n for n in out.decode('utf-8', 'surrogateescape').split('\0') if n}
    return sorted(n for n in names if os.path.isfile(os.path.join(root, n)))


def experiment_dirs(names):
    """Directories among ``names`` that are earlier experiments' log dirs.

    Logs of earlier runs under an un-ignored ``data/`` would otherwise be
    archived again by every later run (archives inside archives).
    """
    by_dir = {}
    for name in names:
        head, tail = os.path.split(name)
        by_dir.setdefault(head, set()).add(tail)
    return sorted(d for d, files in by_dir.items()
                  if d and {'variant.json', 'metadata.json'} <= files)


def make_launch_archive(root, archive_path, exclude_dirs=(), max_file_bytes=None):
    """Write ``launch_archive.tar.xz`` of the launch repository.

    Files under ``exclude_dirs`` (the experiment's own log directory) and
    under earlier experiments' log directories are left out. Returns a
    summary listing the files that were too large to include.
    """
    if max_file_bytes is None:
        max_file_bytes = MAX_ARCHIVED_FILE_BYTES
    names = launch_files(root)
    excluded = [os.path.abspath(d) + os.sep for d in exclude_dirs]
    excluded += [os.path.join(root, d) + os.sep for d in experiment_dirs(names)]
    n_files, n_bytes, skipped = 0, 0, []
    with tarfile.open(archive_path, 'w:xz', preset=1) as tar:
        for name in names:
            path = os.path.join(root, name)
            if any(os.path.abspath(path).startswith(d) for d in excluded):
                continue
            size = os.path.getsize(path)
            if size > max_file_bytes:
                skipped.append({'path': name, 'size': size})
                continue
            tar.add(path, arcname=name, recursive=False)
            n_files += 1
            n_bytes += size
    return {'path': os.path.basename(archive_path), 'files': n_files,
            'bytes': n_bytes, 'skipped_large_files': skipped,
            'max_file_bytes': max_file_bytes}
