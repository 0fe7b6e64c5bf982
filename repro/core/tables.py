"""Metrics tables and scalars of two runs, compared value by value (pure).

Each learned metric (a CSV column, a TensorBoard tag) yields at most one
divergence, its first, so the verdict can say how many metrics diverged
without listing every later step. Timing metrics (:mod:`repro.core.timing`) are
not compared; their ranges are collected for the report. Every part of a
divergence may be container-written, so its text is escaped.
"""
import csv
import dataclasses
import io
import math

from repro.core import safefs
from repro.errors import UntrustedFileError
from repro.core.safefs import display
from repro.core.timing import Timing, TimingRules, value_range


@dataclasses.dataclass(frozen=True)
class Divergence:
    path: str
    where: str = ''
    metric: str = ''
    original: object = None
    replay: object = None
    step: int = None
    label: str = 'metric'  # what ``metric`` names: a metric, a tag, a member

    @property
    def difference(self):
        """replay - original when both are numbers (numeric text included), else None."""
        try:
            a, b = (_number(v) for v in (self.original, self.replay))
            return b - a
        except (TypeError, ValueError, OverflowError):
            return None

    def __str__(self):
        """One line; every part may be container-written, so all are escaped."""
        parts = [display(self.path)] + [display(p) for p in (self.where, self.metric) if p]
        if self.metric:
            parts[-1] = f'{self.label} {parts[-1]}'
        text = ', '.join(parts)
        if self.original is not None or self.replay is not None:
            text += f': {display(repr(self.original))} != {display(repr(self.replay))}'
            if self.difference is not None:
                text += f' (difference {self.difference!r})'
        return text


def _number(value):
    if isinstance(value, bool) or value is None:
        raise TypeError(value)
    if isinstance(value, (int, float)):
        return value
    text = str(value).strip()
    return int(text) if text.lstrip('+-').isdigit() else float(text)


@dataclasses.dataclass
class TableResult:
    divergences: list   # [Divergence], at most one per metric, plus a row-count one
    timing: list        # [Timing]
    compared: int       # learned metrics compared


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


def _split(path, names, columns_of, timing):
    """(learned names, [Timing]) of a table's metric names."""
    timing = timing or TimingRules()
    learned = [n for n in names if not timing.is_timing(n)]
    spans = [Timing(path, n, *(value_range(vals) for vals in columns_of(n)))
             for n in names if timing.is_timing(n)]
    return learned, spans


def compare_csv(path, text_a, text_b, rtol=0.0, atol=0.0, timing=None):
    """The first divergence of each learned column of two CSV tables (pure)."""
    try:
        rows_a, rows_b = csv_rows(text_a), csv_rows(text_b)
    except csv.Error as exc:
        return TableResult([Divergence(path, f'not a readable CSV table ({exc}); '
                                             'bytes differ')], [], 0)
    columns = sorted(set().union(*(r.keys() for r in rows_a + rows_b)))
    learned, spans = _split(path, columns, lambda c: ([r.get(c) for r in rows_a],
                                                      [r.get(c) for r in rows_b]), timing)
    found = {}
    for i, (ra, rb) in enumerate(zip(rows_a, rows_b)):
        epoch = ra.get('Epoch') or ra.get('Iteration') or ra.get('epoch')
        where = f'row {i}' + (f' (epoch {epoch})' if epoch not in (None, '') else '')
        for column in learned:
            va, vb = ra.get(column), rb.get(column)
            if column not in found and not close(va, vb, rtol, atol):
                found[column] = Divergence(path, where, column, va, vb, step=i)
    out = sorted(found.values(), key=lambda d: (d.step, d.metric))
    if len(rows_a) != len(rows_b):
        out.append(Divergence(path, 'row count', '', len(rows_a), len(rows_b)))
    return TableResult(out, spans, len(learned))


def compare_scalars(path, scalars_a, scalars_b, rtol=0.0, atol=0.0, timing=None):
    """The first divergence of each learned tag of two {(tag, step): value} maps (pure)."""
    tags = sorted({tag for tag, _ in scalars_a} | {tag for tag, _ in scalars_b})
    learned, spans = _split(path, tags, lambda t: (
        [v for (tag, _), v in scalars_a.items() if tag == t],
        [v for (tag, _), v in scalars_b.items() if tag == t]), timing)
    keep = set(learned)
    found = {}
    for tag, step in sorted(set(scalars_a) | set(scalars_b), key=lambda k: (k[1], k[0])):
        va, vb = scalars_a.get((tag, step)), scalars_b.get((tag, step))
        if tag in keep and tag not in found and (va is None or vb is None
                                                 or not close(va, vb, rtol, atol)):
            found[tag] = Divergence(path, f'step {step}', tag, va, vb, step=step, label='tag')
    return TableResult(list(found.values()), spans, len(learned))


def is_events(path):
    return '.tfevents.' in path.rsplit('/', 1)[-1]


def compare_events(path, data_a, data_b, rtol=0.0, atol=0.0, timing=None):
    """Two event files' scalars compared by (tag, step); an event's wall_time never
    is. A malformed file diverges."""
    from repro.log.tensorboard import parse_events
    maps = []
    for side, data in (('original', data_a), ('replay', data_b)):
        try:
            maps.append({(tag, step): v for step, tag, v in parse_events(data)})
        except ValueError as exc:
            return TableResult([Divergence(path, f'the {side} is not a readable event '
                                                 f'file ({exc})')], [], 0)
    return compare_scalars(path, *maps, rtol, atol, timing)
