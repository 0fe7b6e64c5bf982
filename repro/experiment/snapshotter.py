"""Snapshotter: saves and loads training state with garage's file names.

Modes (garage's): ``all`` (``itr_N.pkl`` every epoch), ``last``
(``params.pkl``, overwritten), ``gap`` (``itr_N.pkl`` when N % gap == 0),
``gap_and_last`` (both), ``gap_overwrite`` (``params.pkl`` when N % gap == 0)
and ``none``.

A snapshot is pickled (cloudpickle) on the caller's thread, so it captures
the state at that moment; writing it is handed to a background thread that
writes a temporary file, fsyncs it and only then renames it into place. So
a crash, even a power loss, never leaves a truncated snapshot, and training
does not wait for the disk. One write is in flight at a time; the next save,
``load`` and :func:`wait_for_snapshots` wait for it and re-raise its error.
"""
import collections
import os
import re
import threading

import cloudpickle

from repro.core._fs import atomic_writer
from repro.errors import ConfigError, SnapshotNotFoundError

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


class _BackgroundWriter:
    """Durable writes off the training thread, at most one in flight."""

    def __init__(self):
        self._lock = threading.Lock()
        self._thread = None
        self._error = None

    def submit(self, paths, data):
        with self._lock:
            self._wait_locked()
            # Not a daemon: the interpreter joins it at exit, so a snapshot
            # started before a normal exit is always completed.
            self._thread = threading.Thread(target=self._write, args=(paths, data),
                                            name='repro-snapshot-writer')
            self._thread.start()

    def _write(self, paths, data):
        try:
            for path in paths:
                with atomic_writer(path) as f:
                    f.write(data)
        except BaseException as exc:  # re-raised on the training thread
            self._error = exc

    def wait(self):
        with self._lock:
            self._wait_locked()

    def _wait_locked(self):
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._error is not None:
            error, self._error = self._error, None
            raise error


_writer = _BackgroundWriter()


def wait_for_snapshots():
    """Block until every snapshot saved so far is on disk; raise its error."""
    _writer.wait()


class Snapshotter:
    """Writes ``params`` dicts for an epoch; loads them back by iteration."""

    def __init__(self, snapshot_dir=os.path.join(os.getcwd(), 'data/local/experiment'),
                 snapshot_mode='last', snapshot_gap=1):
        validate_snapshot_options(snapshot_mode, snapshot_gap)
        self._snapshot_dir = snapshot_dir
        self._snapshot_mode = snapshot_mode
        self._snapshot_gap = snapshot_gap

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
        """Save ``params`` for iteration ``itr``; returns the paths written."""
        names = snapshot_files(itr, self._snapshot_mode, self._snapshot_gap)
        if not names:
            return []
        os.makedirs(self._snapshot_dir, exist_ok=True)
        data = cloudpickle.dumps(params)
        paths = [os.path.join(self._snapshot_dir, n) for n in names]
        _writer.submit(paths, data)
        return paths

    @staticmethod
    def wait():
        """Block until this process's pending snapshot writes are done."""
        wait_for_snapshots()

    def load(self, load_dir, itr='last'):
        """Load the snapshot of ``itr`` (an int, ``'last'`` or ``'first'``)."""
        wait_for_snapshots()
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
