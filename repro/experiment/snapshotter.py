"""Snapshotter: saves and loads training state with garage's file names.

Modes (garage's): ``all`` (``itr_N.pkl`` every epoch), ``last``
(``params.pkl``, overwritten), ``gap`` (``itr_N.pkl`` when N % gap == 0),
``gap_and_last`` (both), ``gap_overwrite`` (``params.pkl`` when N % gap == 0)
and ``none``.

As in garage, ``save_itr_params`` pickles (cloudpickle) on the caller's
thread and the file is complete under its final name when it returns; a
failure is raised there. Unlike garage, it is pickled into a temporary file
that is then renamed, so a reader (or a crash) never meets a half-written
snapshot. Only the fsync that makes it survive a power cut runs on a
background thread; this Snapshotter's next save and :meth:`Snapshotter.wait`
wait for it and raise its error, and :func:`wait_for_snapshots` (the end of
an experiment) waits for every Snapshotter's.
"""
import atexit
import collections
import os
import queue
import re
import shutil
import threading

import cloudpickle

from repro.core._fs import fsync_dir, open_temp_beside
from repro.errors import ConfigError, SnapshotNotFoundError
from repro.experiment import pickling

pickling.install_class_ids()  # a class pickled by value: the same id in every process

SnapshotConfig = collections.namedtuple(
    'SnapshotConfig', ['snapshot_dir', 'snapshot_mode', 'snapshot_gap'])

SNAPSHOT_MODES = ('all', 'last', 'gap', 'gap_and_last', 'gap_overwrite', 'none')
_ITR_FILE = re.compile(r'^itr_(\d+)\.pkl$')


def validate_snapshot_options(snapshot_mode, snapshot_gap):
    """Raise ConfigError for a mode/gap pair garage would reject."""
    if snapshot_mode not in SNAPSHOT_MODES:
        raise ConfigError(f'Invalid snapshot mode {snapshot_mode!r}',
                          'choose one of ' + ', '.join(SNAPSHOT_MODES))
    if isinstance(snapshot_gap, bool) or not isinstance(snapshot_gap, int) \
            or snapshot_gap < 1:
        raise ConfigError(f'snapshot_gap must be a positive int, got {snapshot_gap!r}')
    if snapshot_mode == 'last' and snapshot_gap != 1:
        raise ConfigError('snapshot_gap should be 1 with snapshot_mode="last"',
                          'did you mean snapshot_mode="gap"?')
    if snapshot_mode == 'gap_overwrite' and snapshot_gap <= 1:
        raise ConfigError('snapshot_gap must be > 1 with snapshot_mode="gap_overwrite"',
                          'use snapshot_mode="last" to save every epoch')


def snapshot_files(itr, snapshot_mode, snapshot_gap):
    """The file names an epoch's snapshot is written to (pure)."""
    on_gap = itr % snapshot_gap == 0
    return {
        'all': [f'itr_{itr}.pkl'],
        'last': ['params.pkl'],
        'gap': [f'itr_{itr}.pkl'] if on_gap else [],
        'gap_and_last': ([f'itr_{itr}.pkl'] if on_gap else []) + ['params.pkl'],
        'gap_overwrite': ['params.pkl'] if on_gap else [],
        'none': [],
    }[snapshot_mode]


def _hold(path):
    """A descriptor on the file ``path`` names now, or None if there is none.

    Held by the fsync thread until it is done: the snapshot being replaced
    is then freed there, not inside the rename on the training thread (on
    ext4 that is half the cost of renaming over a 100 kB file).
    """
    try:
        return os.open(path, os.O_RDONLY)
    except OSError:
        return None


def _write_visible(paths, params):
    """Pickle ``params`` to every path (a temporary file each, then renamed).

    Returns the still-open new files (flushed, not fsynced) and descriptors
    on the files they replaced. The extra path of ``gap_and_last`` gets a
    byte copy, not a second pickling. On any error no temporary file is left
    and the files not yet renamed keep their old content.
    """
    pending = []  # (file, temporary path) not yet renamed into place
    done, replaced = [], []
    try:
        for path in paths:
            pending.append(open_temp_beside(path))
        first, first_tmp = pending[0]
        pickling.dump(params, first)  # cloudpickle's, with torch storages under fixed keys
        first.flush()
        for f, _ in pending[1:]:
            with open(first_tmp, 'rb') as src:
                shutil.copyfileobj(src, f)
            f.flush()
        for path in paths:
            f, tmp = pending[0]
            replaced.append(_hold(path))
            os.replace(tmp, path)
            done.append(pending.pop(0)[0])
        return done, [fd for fd in replaced if fd is not None]
    except BaseException:
        for f, tmp in pending:
            f.close()
            os.unlink(tmp)
        _close_all(done, [fd for fd in replaced if fd is not None])
        raise


def _close_all(files, fds):
    for f in files:
        f.close()
    for fd in fds:
        os.close(fd)


class _Durability:
    """The fsync of one save's files and directory, done by :data:`_FSYNC`."""

    _lock = threading.Lock()
    _unfinished = set()  # every sync whose outcome nobody has taken yet

    def __init__(self, files, replaced, directory):
        self._files, self._replaced, self._directory = files, replaced, directory
        self._error = None
        self._done = threading.Event()
        with self._lock:
            self._unfinished.add(self)

    def sync(self):
        try:
            for f in self._files:
                os.fsync(f.fileno())
            fsync_dir(self._directory)
        except BaseException as exc:  # raised by finish() on a caller's thread
            self._error = exc
        finally:
            _close_all(self._files, self._replaced)
            self._done.set()

    def finish(self):
        """Wait for the fsync; raise its error, once, to the first caller."""
        self._done.wait()
        with self._lock:
            if self not in self._unfinished:
                return
            self._unfinished.discard(self)
        if self._error is not None:
            raise self._error

    @classmethod
    def finish_all(cls):
        """Finish every sync not finished yet; raise the first error."""
        with cls._lock:
            syncs = list(cls._unfinished)
        errors = []
        for sync in syncs:
            try:
                sync.finish()
            except Exception as exc:
                errors.append(exc)
        if errors:
            raise errors[0]


class _FsyncWorker:
    """One thread that runs every Snapshotter's fsyncs, in order.

    A long-lived thread, because starting one per save cost about 5% of
    a 4 ms save. It is a daemon (it never ends on its own); an ``atexit``
    hook waits for what it has left, so a snapshot saved before a normal
    exit is still made durable.
    """

    def __init__(self):
        self._queue = queue.SimpleQueue()
        self._thread = None
        self._lock = threading.Lock()

    def submit(self, durability):
        try:
            with self._lock:
                if self._thread is None or not self._thread.is_alive():
                    self._thread = threading.Thread(target=self._run, daemon=True,
                                                    name='repro-snapshot-fsync')
                    self._thread.start()
        except RuntimeError:  # no new threads (the interpreter is exiting)
            durability.sync()
            return
        self._queue.put(durability)

    def _run(self):
        while True:
            self._queue.get().sync()


_FSYNC = _FsyncWorker()


def _after_fork_in_child():
    """A forked child has no fsync thread and must not wait for its
    parent's syncs (nor for a lock another parent thread held)."""
    _Durability._lock = threading.Lock()
    _Durability._unfinished = set()
    _FSYNC.__init__()


os.register_at_fork(after_in_child=_after_fork_in_child)


def wait_for_snapshots():
    """Block until every snapshot saved in this process is durable.

    Raises the first fsync error that no Snapshotter has raised yet.
    """
    _Durability.finish_all()


atexit.register(wait_for_snapshots)


class Snapshotter:
    """Writes ``params`` dicts for an epoch; loads them back by iteration."""

    def __init__(self, snapshot_dir=os.path.join(os.getcwd(), 'data/local/experiment'),
                 snapshot_mode='last', snapshot_gap=1):
        validate_snapshot_options(snapshot_mode, snapshot_gap)
        self._snapshot_dir = snapshot_dir
        self._snapshot_mode = snapshot_mode
        self._snapshot_gap = snapshot_gap
        self._durability = None

    def __getstate__(self):  # a pending fsync (a thread) is not state
        return {**self.__dict__, '_durability': None}

    @property
    def snapshot_dir(self):
        return self._snapshot_dir

    @property
    def snapshot_mode(self):
        return self._snapshot_mode

    @property
    def snapshot_gap(self):
        return self._snapshot_gap

    def save_itr_params(self, itr, params):
        """Save ``params`` for iteration ``itr``; returns the paths written.

        When it returns, the files are complete under their final names.
        It first raises the error of this Snapshotter's previous fsync, if
        that failed.
        """
        self.wait()
        names = snapshot_files(itr, self._snapshot_mode, self._snapshot_gap)
        if not names:
            return []
        os.makedirs(self._snapshot_dir, exist_ok=True)
        paths = [os.path.join(self._snapshot_dir, n) for n in names]
        self._durability = _Durability(*_write_visible(paths, params),
                                       self._snapshot_dir)
        _FSYNC.submit(self._durability)
        return paths

    def wait(self):
        """Block until this Snapshotter's last save is durable (fsynced)."""
        durability, self._durability = self._durability, None
        if durability is not None:
            durability.finish()

    def load(self, load_dir, itr='last'):
        """Load the snapshot of ``itr`` (an int, ``'last'`` or ``'first'``)."""
        return cloudpickle.loads(read_snapshot_bytes(load_dir, itr))


def snapshot_path(load_dir, itr='last'):
    """Which file ``Snapshotter.load(load_dir, itr)`` reads."""
    if isinstance(itr, bool):
        raise ConfigError(f'itr must be an int, "last" or "first", got {itr!r}')
    if isinstance(itr, int) or (isinstance(itr, str) and itr.isdigit()):
        path = os.path.join(load_dir, f'itr_{int(itr)}.pkl')
    elif itr in ('last', 'first'):
        # 'last' prefers params.pkl (written every epoch in its modes);
        # 'first' prefers the lowest itr_N.pkl. Numbers sort numerically.
        if not os.path.isdir(load_dir):
            raise SnapshotNotFoundError(f'snapshot directory not found: {load_dir}')
        numbered = sorted((int(m.group(1)), name) for name in os.listdir(load_dir)
                          if (m := _ITR_FILE.match(name)))
        names = [n for _, n in numbered]
        if os.path.isfile(os.path.join(load_dir, 'params.pkl')):
            names = names + ['params.pkl'] if itr == 'last' else names or ['params.pkl']
        if not names:
            raise SnapshotNotFoundError(f'no snapshot (*.pkl) in {load_dir}')
        path = os.path.join(load_dir, names[0 if itr == 'first' else -1])
    else:
        raise ConfigError(f'itr must be an int, "last" or "first", got {itr!r}')
    if not os.path.isfile(path):
        raise SnapshotNotFoundError(f'snapshot not found: {path}')
    return path


def read_snapshot_bytes(load_dir, itr='last'):
    with open(snapshot_path(load_dir, itr), 'rb') as f:
        return f.read()
