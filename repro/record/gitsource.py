"""Source snapshots through GitPython (the only module that imports ``git``).

A snapshot is the launcher repository's tracked plus untracked-not-ignored
files, exactly as they are on disk, recorded as a git tree. It is built in a
temporary index (seeded from a copy of the user's, so unchanged files are not
re-hashed); the user's index and working tree are never written. Blobs are
copied into the run store by their git id, so an unchanged tree adds no
bytes and a changed file adds only its own blob.
"""
import contextlib
import dataclasses
import hashlib
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import urllib.parse

from repro.errors import SourceError
from repro.core.safefs import display
from repro.record.tools import run_tool, telling_line
from repro.store.treesafe import blob_id, tree_id  # noqa: F401  (git's ids, pure)

EMPTY_TREE = '4b825dc642cb6eb9a060e54bf8d69288fbee4904'
LARGE = 100 << 20     # files above this are named in a warning, left out of the diff
IN_MEMORY = 8 << 20   # files up to this are read whole (one read); larger ones stream
CAT_FILE = ['git', 'cat-file', '--batch']  # a test swaps in a failing one


def strip_credentials(url):
    """A remote URL without user, password, token, query or fragment (pure)."""
    if not url:
        return url
    if '://' not in url:
        # scp-like [user[:password]@]host:path: the user part ends at the last
        # '@' before the host's ':'. Only git's conventional user stays.
        colon = url.rfind(':')
        user, at, host = url[:max(colon, 0)].rpartition('@')
        return host + url[colon:] if at and user != 'git' else url
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
    warnings: list = dataclasses.field(default_factory=list)  # one line each

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
    """[(path, mode, oid)] of the index; names that are not UTF-8 keep their
    bytes as surrogate escapes (``os.fsdecode``), so nothing crashes on them."""
    out = repo.git.ls_files('-s', '-z', env=env, stdout_as_string=False,
                            strip_newline_in_stdout=False)
    files = []
    for record in out.decode('utf-8', 'surrogateescape').split('\0'):  # = os.fsdecode
        if record:
            meta, path = record.split('\t', 1)
            mode, oid, _stage = meta.split()
            files.append((path, mode, oid))
    return files


def _blobs(root, missing):
    """Yield (oid, data) for ``missing`` {oid: path}, checked against the id.

    Regular files are read from the working tree (page-cached, no inflate)
    and kept only if their git blob id matches; anything else (links, files
    changed since ``git add``, clean/smudge filters) comes from git's
    object database. Files over IN_MEMORY stream as (size, chunks).
    """
    from_git = []
    for oid, path in missing.items():
        try:
            f = open(os.path.join(root, path), 'rb',  # noqa: SIM115 (closed below)
                     opener=lambda p, fl: os.open(p, fl | os.O_NOFOLLOW | os.O_NONBLOCK))
        except OSError:  # a link (ELOOP), or gone: git has it
            from_git.append(oid)
            continue
        size = os.fstat(f.fileno()).st_size
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            f.close()
            from_git.append(oid)
        elif size <= IN_MEMORY:
            with f:
                data = f.read()
            if blob_id(data) == oid:
                yield oid, data
            else:
                from_git.append(oid)
        else:
            yield oid, (size, _streamed(f, oid, size, from_git))
    if from_git:
        yield from _read_blobs(root, from_git)


def _streamed(f, oid, size, from_git):
    """Chunks of a large file; if they do not hash to ``oid`` the pack
    leaves them out (SkipBlob) and git supplies the blob instead."""
    from repro.store.packs import CHUNK, SkipBlob
    digest, left = hashlib.sha1(b'blob %d\0' % size), size
    with f:
        while left and (block := f.read(min(CHUNK, left))):
            digest.update(block)
            left -= len(block)
            yield block
        if left or f.read(1) or digest.hexdigest() != oid:
            from_git.append(oid)
            raise SkipBlob(oid)


def _read_blobs(root, oids):
    """Yield (oid, (size, chunks)) for ``oids`` from one ``git cat-file --batch``.

    One process for all blobs: GitPython's per-object round trips cost
    more than git's own decompression on a 10,000-file tree. Each blob's
    chunks must be consumed (or are skipped) before the next is read.
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
            chunks = _from_git(proc.stdout, oid, size)
            yield oid, (size, chunks)
            for _ in chunks:  # not consumed (already stored): skip its bytes
                pass
            proc.stdout.read(1)  # the newline after each object
    finally:
        proc.stdout.close()
        proc.kill()
        proc.wait()
        feeder.join()


def _from_git(stream, oid, size):
    from repro.store.packs import CHUNK
    digest, left = hashlib.sha1(b'blob %d\0' % size), size
    while left and (block := stream.read(min(CHUNK, left))):
        digest.update(block)
        left -= len(block)
        yield block
    if left or digest.hexdigest() != oid:
        raise SourceError(f'git returned a damaged or short blob {oid}')


def snapshot_source(path, store, scan=None):
    """Snapshot the repository containing ``path`` into ``store``; ``scan``
    is one :class:`BackgroundScan` of it already started."""
    return store_snapshot(scan.result() if scan else scan_source(path), store)


def scan_source(path):
    """What git says of the repository containing ``path`` (the snapshot's
    tree, built in a temporary index; HEAD, branch, remote): a
    :class:`SourceScan`. It reads the run store not at all."""
    import git
    repo = open_repo(path)
    try:
        return _scan(repo)
    except git.GitCommandError as exc:
        raise SourceError('git failed while snapshotting the source: '
                          + git_error_line(exc.stderr, exc.status)) from None
    except OSError as exc:  # e.g. git not on PATH, or unreadable files
        raise SourceError(f'cannot snapshot the source: {exc.strerror or exc}') from None
    finally:
        repo.close()  # its cat-file processes


class BackgroundScan:
    """:func:`scan_source` started now and collected by :meth:`result`, for
    a command with other work first (``repro run`` imports docker-py and
    asks the engine). A context manager; leaving it reaps what it started,
    so no temporary index outlives the command.

    On Linux, in a process with no other thread, the scan runs in a forked
    child: GitPython's import and git's processes then take the second core
    while this process goes on (about 30 ms of a warm run). Elsewhere (or
    with threads, which fork does not carry) it runs on a thread, where only
    git's processes overlap. The child never touches the run store; it
    sends its :class:`SourceScan` back as JSON, and the parent scans again
    itself if the child fails unexpectedly, so a bug surfaces here, whole.
    """

    def __init__(self, path, fork=None):
        self._path = path
        self._fork_wanted = (sys.platform.startswith('linux') and threading.active_count() == 1
                             if fork is None else fork)
        self._pid = self._fd = self._thread = None
        self._outcome = None  # (SourceScan, None) or (None, exception) once known

    def __enter__(self):
        if self._fork_wanted:
            self._fork()
        else:
            # Imported here: imports on two threads at once can deadlock on a
            # circular import, and what overlaps with a thread is git's processes.
            import git  # noqa: F401
            self._thread = threading.Thread(target=self._run, daemon=True,
                                            name='repro-source-scan')
            self._thread.start()
        return self

    def __exit__(self, exc_type, *_):
        if self._pid is not None:
            if exc_type is not None:  # Ctrl-C or an error: stop the child and its git
                with contextlib.suppress(OSError):
                    os.killpg(self._pid, signal.SIGINT)
            self._reap()
        elif self._thread is not None:
            self._thread.join()

    def _run(self):
        try:
            self._outcome = scan_source(self._path), None
        except BaseException as exc:  # noqa: BLE001 - re-raised by result()
            self._outcome = None, exc

    def _fork(self):
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: scan, answer, and exit without the parent's exit work
            code = 1
            try:
                # Its own process group, with its git processes: the parent
                # stops them all at once (and a terminal's Ctrl-C reaches the
                # parent, which does that).
                os.setpgid(0, 0)
                os.close(read_fd)
                answer = _scan_answer(self._path)
                with open(write_fd, 'wb') as out:
                    out.write(answer)
                code = 0
            finally:
                os._exit(code)  # noqa: B012 (nothing may escape the child)
        with contextlib.suppress(OSError):  # (both set it: no window for a lost signal)
            os.setpgid(pid, pid)
        os.close(write_fd)
        self._pid, self._fd = pid, read_fd

    def _reap(self):
        """Close the answer's pipe (if unread) and wait for the child."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        os.waitpid(self._pid, 0)
        self._pid = None

    def result(self):
        """The :class:`SourceScan`, or the scan's error raised here (a scan
        not started runs now)."""
        if self._outcome is None and self._pid is not None:
            fd, self._fd = self._fd, None
            with open(fd, 'rb') as answer:
                data = answer.read()
            self._reap()
            self._outcome = _read_answer(data)  # None: the child failed
        elif self._thread is not None:
            self._thread.join()
        if self._outcome is None:  # not started, or the child failed: scan here
            self._run()
        scan, error = self._outcome
        if error is not None:
            raise error
        return scan


def _scan_answer(path):
    """The forked child's answer for ``path``: JSON of the scan, or of its
    SourceError; ``{}`` for anything else (the parent scans again)."""
    import json
    try:
        answer = {'scan': dataclasses.asdict(scan_source(path))}
    except SourceError as exc:
        answer = {'error': [exc.message, exc.hint]}
    except Exception:  # noqa: BLE001 - reproduced by the parent, with its traceback
        answer = {}
    return json.dumps(answer).encode('ascii')  # non-UTF-8 names: \udcXX escapes


def _read_answer(data):
    """(SourceScan, None) or (None, SourceError) from the child's answer;
    None if it has neither (the child failed)."""
    import json
    try:
        answer = json.loads(data or b'{}')
        if 'error' in answer:
            return None, SourceError(*answer['error'])
        if 'scan' in answer:
            fields = dict(answer['scan'], files=[tuple(f) for f in answer['scan']['files']])
            return SourceScan(**fields), None
    except (ValueError, TypeError, KeyError):
        pass
    return None


def git_error_line(stderr, status):
    """The telling line of git's stderr as GitPython reports it (pure)."""
    text = str(stderr or '').strip()
    if text.startswith("stderr: '"):
        text = text[len("stderr: '"):].rstrip("'")
    return telling_line(text) if text.strip() else f'exit code {status}'


@dataclasses.dataclass(frozen=True)
class SourceScan:
    root: str
    commit: str
    head_tree: str
    branch: str
    remote: str
    tree: str
    files: list


def _scan(repo):
    root = repo.working_tree_dir
    commit, head_tree = _head(repo)
    with tempfile.TemporaryDirectory(prefix='repro-index-') as tmp:
        index = os.path.join(tmp, 'index')
        user_index = os.path.join(repo.git_dir, 'index')
        if os.path.exists(user_index):
            # Reuse its cached stat data, with its mtime: git trusts an entry's
            # stat data only if the entry is older than the index file. A
            # copy stamped now would make a same-size edit made in the second
            # of the last `git add` look unchanged (git compares whole seconds).
            shutil.copy2(user_index, index)
        # git reads a file whole to hash it unless it is over
        # core.bigFileThreshold (512 MB by default): stream from LARGE on.
        env = {'GIT_INDEX_FILE': index, 'GIT_CONFIG_COUNT': '1',
               'GIT_CONFIG_KEY_0': 'core.bigFileThreshold', 'GIT_CONFIG_VALUE_0': str(LARGE)}
        repo.git.add('-A', '--', '.', env=env)
        tree = repo.git.write_tree(env=env)
        files = _index_entries(repo, env)
    return SourceScan(root=root, commit=commit, head_tree=head_tree, branch=_branch(repo),
                      remote=_remote(repo), tree=tree, files=files)


def store_snapshot(scan, store):
    """Store the blobs and tree of ``scan`` (a :class:`SourceScan`) that
    ``store`` lacks; the :class:`SourceSnapshot`."""
    try:
        return _store(scan, store)
    except OSError as exc:  # unreadable files, a full disk
        raise SourceError(f'cannot snapshot the source: {exc.strerror or exc}') from None


def _store(scan, store):
    root, tree, files = scan.root, scan.tree, scan.files
    _refuse_submodules(files)
    paths = {oid: path for path, _mode, oid in files}
    missing = {oid: path for oid, path in paths.items() if not store.has_object(oid)}
    new_bytes = store.put_pack(_blobs(root, missing)) if missing else 0
    store.put_tree(tree, files)
    # A blob found damaged later in this process is stored again from here.
    store.blob_sources.append(lambda oids: _blobs(root, {o: paths[o] for o in oids
                                                         if o in paths}))
    sizes = store._packed()
    large = [(path, sizes[oid][2]) for path, mode, oid in files
             if oid in sizes and sizes[oid][2] > LARGE and mode != '120000']
    warnings = [f'{display(path)} is {size / 2**20:,.0f} MB; it is kept in the run store '
                'and left out of the source diff' for path, size in large]
    return SourceSnapshot(root=root, commit=scan.commit, branch=scan.branch,
                          remote=scan.remote, dirty=tree != scan.head_tree, tree=tree,
                          diff=_diff(root, scan.head_tree, tree, [p for p, _ in large]),
                          files=files, new_bytes=new_bytes, warnings=warnings)


def _refuse_submodules(files):
    """Submodules' contents are not snapshotted: stop, never run without them."""
    subs = [path for path, mode, _oid in files if mode == '160000']
    if subs:
        shown = ', '.join(display(p) for p in subs[:5]) + (', …' if len(subs) > 5 else '')
        raise SourceError(f'the source tree has submodules or nested git repositories '
                          f'({shown}), which repro does not snapshot yet',
                          'vendor them (copy their files in) or remove them')


def _diff(root, head_tree, tree, large):
    """``git diff --binary`` from HEAD to the snapshot. Files over LARGE are
    listed by their raw record (``:old-mode new-mode old-id new-id status``)
    instead of their content, which would sit in memory and in the run
    directory twice."""
    def git_diff(option, pathspecs, *more):
        return run_tool(['git', '-c', f'core.bigFileThreshold={LARGE}', 'diff', '--no-color',
                         '--no-ext-diff', option, *more, head_tree, tree, '--',
                         *[os.fsencode(p) for p in pathspecs]], cwd=root, text=False,
                        error=SourceError, what='git diff').stdout
    if head_tree == tree:
        return b''
    if not large:
        return git_diff('--binary', [])
    # Large files by git's raw record (modes, full ids, status) alone: even
    # "Binary files differ" makes git read the whole blob into memory.
    return git_diff('--binary', [':(top,exclude,literal)' + p for p in large]) + \
        git_diff('--raw', [':(top,literal)' + p for p in large], '--no-abbrev')


def export_tree(store, files, dest):
    """Write snapshot ``files`` from the store into the empty folder ``dest``
    (checked first, never through a link: see :mod:`repro.store.treesafe`)."""
    from repro.store.treesafe import export
    os.makedirs(dest, exist_ok=True)
    export(store, files, dest)
