"""Transparent resume: ``LocalRunner.train`` continues an earlier attempt.

When ``REPRO_RESUME_FROM`` names an earlier attempt's outputs (``repro sweep
resume`` and a requeued Slurm task mount them read-only at
``contract.RESUME``), :func:`continue_earlier` looks there for the same
experiment: the same log directory relative to the working directory (the
run's outputs). If its last snapshot is usable:

1. the snapshot is loaded; it records what the appended outputs
   (``progress.csv``, the TensorBoard events) held when it was taken, which
   is after that epoch's dump (:func:`outputs_state`);
2. those outputs continue the earlier files cut back to exactly that, so no
   epoch's row is lost or written twice, and ``debug.log`` and
   ``stdout.log`` get the earlier text in front of this attempt's;
3. every other file of the earlier log directory that this one lacks is
   copied, snapshots last, so a snapshot found here always comes with its
   outputs (an attempt killed while copying is itself resumable);
4. the runner restores the snapshot and trains on from the next epoch.

Without a usable snapshot (none, one from before snapshots recorded their
outputs, outputs shorter than recorded) training starts at epoch 0 and the
log says why. The earlier outputs are only read, here, inside the container.
"""
import json
import os
import re
import sys

import cloudpickle

from repro import contract
from repro.core._fs import copy_file
from repro.errors import SnapshotNotFoundError
from repro.experiment.snapshotter import snapshot_path
from repro.log import CsvOutput, TensorBoardOutput, TextOutput, logger

STATE_KEY = 'log_outputs'          # in every LocalRunner snapshot
STREAM_LOG = 'stdout.log'          # the session's copy of what the experiment printed
_SNAPSHOT = re.compile(r'^(?:itr_(\d+)|params)\.pkl$')
_taken = set()                     # log directories that continued already


def outputs_state(log_dir):
    """What the appended outputs in ``log_dir`` hold now, for a snapshot.

    Deterministic (columns, row counts, sizes; no names that embed a time),
    so a resumed run's snapshots are byte for byte an uninterrupted run's.
    """
    state = {'csv': {}}
    for output in _outputs_in(log_dir):
        if isinstance(output, CsvOutput):
            state['csv'][os.path.basename(output.path)] = output.resume_state()
        elif isinstance(output, TensorBoardOutput) and 'tensorboard' not in state:
            state['tensorboard'] = output.resume_state()
    return state


def _outputs_in(log_dir):
    log_dir = os.path.abspath(log_dir)
    return [o for o in logger.outputs if getattr(o, 'path', None)
            and os.path.dirname(os.path.abspath(o.path)) == log_dir]


def earlier_log_dir(log_dir):
    """The same experiment's log directory in the earlier attempt's outputs,
    or None when no earlier attempt is mounted."""
    earlier = os.environ.get(contract.ENV_RESUME_FROM)
    if not earlier:
        return None
    rel = os.path.relpath(os.path.abspath(log_dir), os.getcwd())
    if rel == os.curdir or rel.split(os.sep)[0] == os.pardir:
        logger.log(f'Not resuming: the log directory {log_dir} is not under the working '
                   'directory (the run\'s outputs)')
        return None
    return os.path.join(earlier, rel)


def continue_earlier(log_dir):
    """Continue the earlier attempt of the experiment that logs to ``log_dir``.

    Returns its last snapshot (a dict) for the runner to restore, with this
    log directory made to hold what the earlier one held when it was taken;
    None to start at epoch 0 (nothing mounted, or nothing usable: logged).
    Only once per log directory.
    """
    key = os.path.abspath(log_dir)
    earlier = None if key in _taken else earlier_log_dir(log_dir)
    if earlier is None:
        return None
    _taken.add(key)
    try:
        path = snapshot_path(earlier, 'last')
        with open(path, 'rb') as f:
            saved = cloudpickle.load(f)
        writes = _continue_outputs(log_dir, earlier, saved[STATE_KEY])
    except SnapshotNotFoundError:
        logger.log(f'No snapshot to resume from in {earlier}: starting at epoch 0')
        return None
    except Exception as exc:  # noqa: BLE001 - anything unusable: start afresh, say why
        logger.log(f'Cannot resume from {earlier} ({type(exc).__name__}: {exc}): '
                   'starting at epoch 0')
        return None
    for write in writes:
        write()
    _copy_rest(earlier, log_dir, skip={_events_file(earlier)} if 'tensorboard' in
               saved[STATE_KEY] else set())
    logger.log(f'Resuming from {path}: epoch {saved["stats"].total_epoch} was the last '
               'one saved')
    return saved


def _continue_outputs(log_dir, earlier, state):
    """Functions that make this log directory's outputs continue the earlier
    ones as ``state`` records them; raises first if any cannot."""
    if not isinstance(state, dict):
        raise ValueError('the snapshot records no log outputs (saved by an older repro?)')
    writes, events = [], state.get('tensorboard')
    for output in _outputs_in(log_dir):
        name = os.path.basename(output.path)
        if isinstance(output, CsvOutput) and name in state['csv']:
            writes.append(output.continue_from(os.path.join(earlier, name),
                                               state['csv'][name]))
        elif isinstance(output, TensorBoardOutput) and events is not None:
            writes.append(output.continue_from(os.path.join(earlier, _events_file(earlier)),
                                               events))
            events = None  # one events file per experiment: the first output's
        elif isinstance(output, TextOutput):
            writes.append(_prepender(os.path.join(earlier, name), output.path, output.dump))
    if os.path.isfile(os.path.join(log_dir, STREAM_LOG)):
        writes.append(_prepender(os.path.join(earlier, STREAM_LOG),
                                 os.path.join(log_dir, STREAM_LOG), _flush_streams))
    return writes


def _events_file(earlier):
    """The earlier experiment's own TensorBoard file, as its metadata names it."""
    with open(os.path.join(earlier, 'metadata.json'), encoding='utf-8') as f:
        name = json.load(f).get('tensorboard_file')
    if not isinstance(name, str) or os.path.basename(name) != name or \
            not os.path.isfile(os.path.join(earlier, name)):
        raise ValueError('the earlier metadata.json names no TensorBoard file')
    return name


def _flush_streams():
    sys.stdout.flush()
    sys.stderr.flush()


def _prepender(earlier_path, path, flush):
    """Put the earlier text log in front of this attempt's (whose writers
    append, so they go on writing at the end)."""
    def write():
        flush()
        if not os.path.isfile(earlier_path):
            return
        with open(earlier_path, 'rb') as f:
            earlier = f.read()
        with open(path, 'r+b') as f:
            now = f.read()
            f.seek(0)
            f.write(earlier + now)
            f.truncate()
    return write


def _copy_rest(earlier, log_dir, skip):
    """Copy what ``log_dir`` lacks from ``earlier``: links as links, no
    temporary files, snapshots last (oldest first, ``params.pkl`` after)."""
    snapshots = []
    for top, dirs, files in os.walk(earlier):
        rel = os.path.relpath(top, earlier)
        target = os.path.normpath(os.path.join(log_dir, rel))
        os.makedirs(target, exist_ok=True)
        for name in files + [d for d in dirs if os.path.islink(os.path.join(top, d))]:
            src, dst = os.path.join(top, name), os.path.join(target, name)
            if (rel == os.curdir and name in skip) or os.path.lexists(dst) or \
                    (name.startswith('.') and name.endswith('.tmp')):
                continue
            if os.path.islink(src):
                os.symlink(os.readlink(src), dst)
            elif rel == os.curdir and _SNAPSHOT.match(name):
                snapshots.append((src, dst))
            elif os.path.isfile(src):
                copy_file(src, dst)
    for src, dst in sorted(snapshots, key=_snapshot_order):
        copy_file(src, dst)


def _snapshot_order(pair):
    number = _SNAPSHOT.match(os.path.basename(pair[0])).group(1)
    return (number is None, int(number or 0))
