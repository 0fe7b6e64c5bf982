"""Snapshotter: saves and loads training state with garage's file names.

Modes (garage's): ``all`` (``itr_N.pkl`` every epoch), ``last``
(``params.pkl``, overwritten), ``gap`` (``itr_N.pkl`` when N % gap == 0),
``gap_and_last`` (both), ``gap_overwrite`` (``params.pkl`` when N % gap == 0)
and ``none``. Files are written with cloudpickle to a temporary file and
renamed, so a crash never leaves a truncated snapshot behind.
"""
import collections
import os
import re

import cloudpickle

from repro._fs import atomic_writer
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
        for path in paths:
            with atomic_writer(path) as f:
                f.write(data)
        return paths

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
