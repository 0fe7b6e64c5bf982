"""Metrics tables and scalars of two runs, compared value by value (pure).

A divergence names the file, the row/epoch or step, the metric and both
values; every part may be container-written, so its text is escaped.
"""
import csv
import dataclasses
import io
import math

from repro import safefs
from repro.errors import UntrustedFileError
from repro.safefs import display


@dataclasses.dataclass(frozen=True)
class Divergence:
    path: str
    where: str = ''
    metric: str = ''
    original: object = None
    replay: object = None

    def __str__(self):
        """One line; every part may be container-written, so all are escaped."""
        parts = [display(self.path)] + [display(p) for p in (self.where, self.metric) if p]
        if self.metric:
            parts[-1] = f'metric {parts[-1]}'
        text = ', '.join(parts)
        if self.original is not None or self.replay is not None:
            text += f': {display(repr(self.original))} != {display(repr(self.replay))}'
        return text


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
    return bool(rtol or atol) and abs(x - y) <= atol + rtol * abs(y)


def csv_rows(text):
    """Rows of a CSV text as dicts; extra cells under '(extra)' (csv.Error if malformed)."""
    return list(csv.DictReader(io.StringIO(text, newline=''), restkey='(extra)'))


def read_table(root, rel):
    """Rows of the CSV file ``root/rel``, read safely; UntrustedFileError if it
    is not a regular UTF-8 file within the size limit or not a CSV table."""
    try:
        return csv_rows(safefs.read_text(root, rel))
    except csv.Error as exc:
        raise UntrustedFileError(f'{display(rel)} is not a readable CSV table '
                                 f'({display(exc)})') from None


def compare_csv(path, text_a, text_b, rtol=0.0, atol=0.0):
    """First divergence between two CSV tables, or None (pure)."""
    try:
        rows_a, rows_b = csv_rows(text_a), csv_rows(text_b)
    except csv.Error as exc:
        return Divergence(path, f'not a readable CSV table ({exc}); bytes differ')
    columns = sorted(set().union(*(r.keys() for r in rows_a + rows_b)))
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
    """First divergence between {(tag, step): value} maps, in step order (pure)."""
    keys = sorted(set(scalars_a) | set(scalars_b), key=lambda k: (k[1], k[0]))
    for tag, step in keys:
        va, vb = scalars_a.get((tag, step)), scalars_b.get((tag, step))
        if va is None or vb is None or not close(va, vb, rtol, atol):
            return Divergence(path, f'step {step}', tag, va, vb)
    return None


def is_events(path):
    return '.tfevents.' in path.rsplit('/', 1)[-1]


def compare_events(path, data_a, data_b, rtol=0.0, atol=0.0):
    """First divergence between two event files' scalars; a malformed file diverges."""
    from repro.log.tensorboard import parse_events
    maps = []
    for side, data in (('original', data_a), ('replay', data_b)):
        try:
            maps.append({(tag, step): v for step, tag, v in parse_events(data)})
        except ValueError as exc:
            return Divergence(path, f'the {side} is not a readable event file ({exc})')
    return compare_scalars(path, *maps, rtol, atol)
