"""Comparing two runs' outputs: the verdict of a replay (pure given files).

Files are paired by *structure*: digit runs in names (timestamps, pids) are
wildcards, so ``events.out.tfevents.1795491604.repro.1.0`` pairs with the
replay's file of the same shape. Then, by kind:

- ``*.csv``: value by value, row by row (tolerance with ``rtol``/``atol``);
- TensorBoard event files: scalars by (tag, step);
- ``*.pkl``: by content (arrays and tensors equal), loaded only after their
  sha256 matched the manifest;
- logs and metadata with wall-clock times: listed, not compared;
- anything else: by bytes.

The first divergence names the file, the row/epoch or step, the metric and
the two values.
"""
import csv
import dataclasses
import math
import os
import re

VOLATILE = re.compile(r'(^|/)(debug\.log|stdout\.log|metadata\.json)$|^manifest\.json$')


@dataclasses.dataclass(frozen=True)
class Divergence:
    path: str
    where: str = ''
    metric: str = ''
    original: object = None
    replay: object = None

    def __str__(self):
        parts = [self.path]
        if self.where:
            parts.append(self.where)
        if self.metric:
            parts.append(f'metric {self.metric}')
        text = ', '.join(parts)
        if self.original is not None or self.replay is not None:
            text += f': {self.original!r} != {self.replay!r}'
        return text


def structure_key(path):
    """A path with digit runs replaced, to pair run-specific names (pure)."""
    return re.sub(r'\d+', '#', path)


def pair_files(original, replay):
    """Pairs (original, replay) by structure, plus the unpaired on each side."""
    by_key = {}
    for side, paths in ((0, original), (1, replay)):
        for path in sorted(paths):
            by_key.setdefault(structure_key(path), ([], []))[side].append(path)
    pairs, only_original, only_replay = [], [], []
    for key in sorted(by_key):
        a, b = by_key[key]
        pairs.extend(zip(a, b))
        only_original.extend(a[len(b):])
        only_replay.extend(b[len(a):])
    return pairs, only_original, only_replay


def close(a, b, rtol, atol):
    """Exact equality, or within tolerance for numbers (NaN equals NaN)."""
    if a == b:
        return True
    try:
        x, y = float(a), float(b)
    except (TypeError, ValueError):
        return False
    if math.isnan(x) and math.isnan(y):
        return True
    return (rtol or atol) and abs(x - y) <= atol + rtol * abs(y)


def compare_csv(path, text_a, text_b, rtol=0.0, atol=0.0):
    """First divergence between two CSV tables, or None."""
    rows_a = list(csv.DictReader(text_a.splitlines()))
    rows_b = list(csv.DictReader(text_b.splitlines()))
    columns = sorted(set().union(*(r.keys() for r in rows_a + rows_b))) if rows_a or rows_b \
        else []
    for i, (ra, rb) in enumerate(zip(rows_a, rows_b)):
        epoch = ra.get('Epoch') or ra.get('Iteration') or ra.get('epoch')
        where = f'row {i}' + (f' (epoch {epoch})' if epoch not in (None, '') else '')
        for column in columns:
            va, vb = ra.get(column), rb.get(column)
            if not close(va, vb, rtol, atol):
                return Divergence(path, where, column, va, vb)
    if len(rows_a) != len(rows_b):
        return Divergence(path, 'row count', '', len(rows_a), len(rows_b))
    return None


def compare_scalars(path, scalars_a, scalars_b, rtol=0.0, atol=0.0):
    """First divergence between {(tag, step): value} maps, in step order."""
    keys = sorted(set(scalars_a) | set(scalars_b), key=lambda k: (k[1], k[0]))
    for tag, step in keys:
        va, vb = scalars_a.get((tag, step)), scalars_b.get((tag, step))
        if va is None or vb is None or not close(va, vb, rtol, atol):
            return Divergence(path, f'step {step}', tag, va, vb)
    return None


def read_scalars(path):
    """{(tag, step): value} from a TensorBoard event file (our encoding)."""
    from repro.log.tensorboard import read_events
    return {(tag, step): value for step, tag, value in read_events(path)}


def compare_snapshots(path, obj_a, obj_b):
    from repro.content import first_difference
    diff = first_difference(obj_a, obj_b)
    return None if diff is None else Divergence(path, diff)


def files_under(root):
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        out.extend(os.path.relpath(os.path.join(dirpath, f), root).replace(os.sep, '/')
                   for f in sorted(filenames))
    return sorted(out)


def _kind_rank(path):
    """Metrics tables first, so the reported divergence is the most readable."""
    if path.endswith('.csv'):
        return 0
    if '.tfevents.' in os.path.basename(path):
        return 1
    return 2 if path.endswith('.pkl') else 3


def compare_outputs(dir_a, artifacts_a, dir_b, artifacts_b, rtol=0.0, atol=0.0):
    """Compare two runs' files; returns (first divergence or None, report lines).

    ``artifacts_*`` are the manifests' artifact lists: a pickle is unpickled
    only if its sha256 is the one its manifest recorded.
    """
    import cloudpickle

    from repro.manifest import sha256_file
    recorded = ({a['path']: a['sha256'] for a in artifacts_a},
                {a['path']: a['sha256'] for a in artifacts_b})
    pairs, only_a, only_b = pair_files(files_under(dir_a), files_under(dir_b))
    report, first = [], None
    for path in only_a:
        first = first or Divergence(path, 'missing from the replay')
    for path in only_b:
        first = first or Divergence(path, 'only in the replay')
    for path_a, path_b in sorted(pairs, key=lambda p: (_kind_rank(p[0]), p[0])):
        full_a, full_b = os.path.join(dir_a, path_a), os.path.join(dir_b, path_b)
        if VOLATILE.search(path_a):
            report.append(f'not compared (wall-clock content): {path_a}')
            continue
        with open(full_a, 'rb') as fa, open(full_b, 'rb') as fb:
            bytes_a, bytes_b = fa.read(), fb.read()
        if bytes_a == bytes_b:
            report.append(f'identical: {path_a}')
            continue
        if path_a.endswith('.csv'):
            diff = compare_csv(path_a, bytes_a.decode(), bytes_b.decode(), rtol, atol)
        elif '.tfevents.' in os.path.basename(path_a):
            diff = compare_scalars(path_a, read_scalars(full_a), read_scalars(full_b),
                                   rtol, atol)
        elif path_a.endswith('.pkl'):
            for side, (rel, full) in enumerate(((path_a, full_a), (path_b, full_b))):
                if recorded[side].get(rel) != sha256_file(full):
                    raise ValueError(f'{rel}: hash does not match the manifest; not unpickling')
            diff = compare_snapshots(path_a, cloudpickle.loads(bytes_a),
                                     cloudpickle.loads(bytes_b))
        else:
            diff = Divergence(path_a, 'bytes differ')
        report.append(f'{"equal content" if diff is None else "DIVERGED"}: {path_a}')
        first = first or diff
    return first, report
