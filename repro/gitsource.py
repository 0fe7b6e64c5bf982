"""Source snapshots through GitPython (the only module that imports ``git``).

A snapshot is the launcher repository's tracked plus untracked-not-ignored
files, exactly as they are on disk, recorded as a git tree. It is built in a
temporary index (seeded from a copy of the user's, so unchanged files are not
re-hashed); the user's index and working tree are never written. Blobs are
copied into the run store by their git id, so an unchanged tree adds no
bytes and a changed file adds only its own blob.
"""
import dataclasses
import hashlib
import os
import shutil
import subprocess
import tempfile
import threading
import urllib.parse

from repro.errors import SourceError

EMPTY_TREE = '4b825dc642cb6eb9a060e54bf8d69288fbee4904'
CAT_FILE = ['git', 'cat-file', '--batch']  # a test swaps in a failing one


def strip_credentials(url):
    """A remote URL without user, password, token, query or fragment (pure)."""
    if not url:
        return url
    if '://' not in url:
        # scp-like user@host:path: drop a user part that carries a secret
        user, at, rest = url.rpartition('@')
        return rest if at and ':' in user else url
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ''
    if ':' in host:  # IPv6 literal
        host = f'[{host}]'
    if parts.port:
        host = f'{host}:{parts.port}'
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path, '', ''))


@dataclasses.dataclass
class SourceSnapshot:
    root: str
    commit: str
    branch: str
    remote: str
    dirty: bool
    tree: str
    diff: bytes
    files: list
    new_bytes: int

    @property
    def diff_sha256(self):
        return hashlib.sha256(self.diff).hexdigest()

    def git_record(self):
        """The manifest's ``git`` section."""
        return {'commit': self.commit, 'branch': self.branch, 'remote': self.remote,
                'dirty': self.dirty, 'tree': self.tree, 'diff_sha256': self.diff_sha256}


def open_repo(path):
    import git
    try:
        return git.Repo(path, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise SourceError(f'{path} is not inside a git repository',
                          'run `git init` (and commit) in your project first') from None


def _head(repo):
    try:
        commit = repo.head.commit
    except ValueError:  # no commits yet
        return None, EMPTY_TREE
    return commit.hexsha, commit.tree.hexsha


def _branch(repo):
    try:
        return repo.active_branch.name
    except TypeError:  # detached HEAD
        return None


def _remote(repo):
    remotes = {r.name: r for r in repo.remotes}
    remote = remotes.get('origin') or next(iter(remotes.values()), None)
    if remote is None:
        return None
    urls = list(remote.urls)
    return strip_credentials(urls[0]) if urls else None


def _index_entries(repo, env):
    out = repo.git.ls_files('-s', '-z', env=env, strip_newline_in_stdout=False)
    files = []
    for record in out.split('\0'):
        if record:
            meta, path = record.split('\t', 1)
            mode, oid, _stage = meta.split()
            files.append((path, mode, oid))
    return files


def _blobs(root, missing):
    """Yield (oid, bytes) for ``missing`` {oid: path}, checked against the id.

    Regular files are read from the working tree (page-cached, no inflate)
    and kept only if their git blob id matches; anything else (links, files
    changed since ``git add``, clean/smudge filters) comes from git's
    object database.
    """
    from_git = []
    for oid, path in missing.items():
        full = os.path.join(root, path)
        data = None
        if not os.path.islink(full):
            try:
                with open(full, 'rb') as f:
                    data = f.read()
            except OSError:
                pass
        if data is not None and blob_id(data) == oid:
            yield oid, data
        else:
            from_git.append(oid)
    if from_git:
        yield from _read_blobs(root, from_git)


def _read_blobs(root, oids):
    """Yield (oid, bytes) for ``oids`` from one ``git cat-file --batch``.

    One process for all blobs: GitPython's per-object round trips cost
    more than git's own decompression on a 10,000-file tree.
    """
    proc = subprocess.Popen(CAT_FILE, cwd=root,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)

    def feed():
        try:
            proc.stdin.write(''.join(f'{oid}\n' for oid in oids).encode())
            proc.stdin.close()
        except OSError:  # git exited early; the reader reports it
            pass
    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    try:
        for oid in oids:
            header = proc.stdout.readline().split()
            if len(header) != 3 or header[0].decode() != oid:
                raise SourceError(f'git could not read blob {oid} of the snapshot')
            size = int(header[2])
            data = proc.stdout.read(size)
            proc.stdout.read(1)  # the newline after each object
            if len(data) != size or blob_id(data) != oid:
                raise SourceError(f'git returned a damaged or short blob {oid}')
            yield oid, data
    finally:
        proc.stdout.close()
        proc.kill()
        proc.wait()
        feeder.join()


def snapshot_source(path, store):
    """Snapshot the repository containing ``path`` into ``store``."""
    import git
    repo = open_repo(path)
    try:
        return _snapshot(repo, store)
    except git.GitCommandError as exc:
        raise SourceError('git failed while snapshotting the source: '
                          + git_error_line(exc.stderr, exc.status)) from None
    except OSError as exc:  # e.g. git not on PATH, or unreadable files
        raise SourceError(f'cannot snapshot the source: {exc.strerror or exc}') from None


def git_error_line(stderr, status):
    """The telling line of git's stderr as GitPython reports it (pure)."""
    text = str(stderr or '').strip()
    if text.startswith("stderr: '"):
        text = text[len("stderr: '"):].rstrip("'")
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return next((ln for ln in lines if ln.startswith(('fatal:', 'error:'))),
                lines[-1] if lines else f'exit code {status}')


def _snapshot(repo, store):
    root = repo.working_tree_dir
    commit, head_tree = _head(repo)
    with tempfile.TemporaryDirectory(prefix='repro-index-') as tmp:
        index = os.path.join(tmp, 'index')
        user_index = os.path.join(repo.git_dir, 'index')
        if os.path.exists(user_index):
            shutil.copyfile(user_index, index)  # reuse cached stat data
        env = {'GIT_INDEX_FILE': index}
        repo.git.add('-A', '--', '.', env=env)
        tree = repo.git.write_tree(env=env)
        files = _index_entries(repo, env)
    missing = {oid: path for path, mode, oid in files  # submodules: not stored
               if mode != '160000' and not store.has_object(oid)}
    new_bytes = store.put_pack(_blobs(root, missing)) if missing else 0
    store.put_tree(tree, files)
    diff = repo.git.diff('--binary', '--no-color', '--no-ext-diff', head_tree, tree,
                         stdout_as_string=False)
    return SourceSnapshot(root=root, commit=commit, branch=_branch(repo),
                          remote=_remote(repo), dirty=tree != head_tree, tree=tree,
                          diff=diff, files=files, new_bytes=new_bytes)


def blob_id(data):
    """git's id of a blob with this content (pure)."""
    return hashlib.sha1(b'blob %d\0' % len(data) + data).hexdigest()


def tree_id(files):
    """git's id of the tree holding ``files`` [(path, mode, oid)] (pure)."""
    root = {}
    for path, mode, oid in files:
        *dirs, name = path.split('/')
        node = root
        for d in dirs:
            node = node.setdefault(d + '/', {})
        node[name] = (mode, oid)

    def write(node):
        entries = []
        for key, value in node.items():
            if isinstance(value, dict):
                entries.append((key, b'40000 ' + key[:-1].encode() + b'\0'
                                + bytes.fromhex(write(value))))
            else:
                mode, oid = value
                entries.append((key, mode.lstrip('0').encode() + b' ' + key.encode() + b'\0'
                                + bytes.fromhex(oid)))
        body = b''.join(e for _, e in sorted(entries, key=lambda e: e[0].encode()))
        return hashlib.sha1(b'tree %d\0' % len(body) + body).hexdigest()
    return write(root)


def export_tree(store, files, dest):
    """Write snapshot ``files`` from the store into ``dest`` (for a container)."""
    for path, mode, oid in files:
        target = os.path.join(dest, path)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if mode == '160000':
            continue
        data = store.read_object(oid)
        if blob_id(data) != oid:  # never run from a damaged store
            raise SourceError(f'source file {path} in the run store does not match its '
                              'git id', 'the store is damaged; snapshot again')
        if mode == '120000':
            os.symlink(data.decode(), target)
            continue
        with open(target, 'wb') as f:
            f.write(data)
        os.chmod(target, 0o755 if mode == '100755' else 0o644)
