"""``repro diff A B``: what differs between two runs, section by section.

Run directories were written by containers (or forged): metrics (progress
CSVs and TensorBoard scalars) are read through :mod:`repro.core.safefs` (no
links, FIFOs or devices, size-capped) and every name or value from them is
printed through ``display``.
"""
import difflib
import struct

from repro.core import safefs
from repro.audit.plot import read_scalars
from repro.core.tables import is_events, read_table
from repro.errors import ReproError
from repro.audit.pairing import pair
from repro.audit.replay import host_differences
from repro.core.safefs import display
from repro.images.wheels import parse_lock


def _tree(store, manifest):
    try:
        return {path: oid for path, _mode, oid in store.get_tree(manifest['git']['tree'])}
    except ReproError:  # a deleted snapshot: say so instead of failing the diff
        return None


def code_changes(store, a, b, patch=False):
    files_a, files_b = _tree(store, a), _tree(store, b)
    if files_a is None or files_b is None:
        return ['source snapshot missing from the store']
    lines = []
    for path in sorted(files_a.keys() | files_b.keys()):
        oid_a, oid_b = files_a.get(path), files_b.get(path)
        if oid_a == oid_b:
            continue
        state = 'added' if oid_a is None else 'removed' if oid_b is None else 'modified'
        lines.append(f'{state}: {display(path)}')
        if patch and state == 'modified':
            old = store.read_object(oid_a).decode('utf-8', 'replace').splitlines(True)
            new = store.read_object(oid_b).decode('utf-8', 'replace').splitlines(True)
            lines.extend(ln.rstrip('\n') for ln in difflib.unified_diff(
                old, new, f'a/{display(path)}', f'b/{display(path)}'))
    return lines


def _packages(store, manifest):
    try:
        text = store.read_object(manifest['lock']['sha256']).decode('utf-8')
        return {name.lower(): version for name, version, _h, _r in parse_lock(text)}
    except (OSError, UnicodeDecodeError, ReproError):
        return None


def dependency_changes(store, a, b):
    pa, pb = _packages(store, a), _packages(store, b)
    if pa is None or pb is None:
        return ['a lock is missing from the store or unreadable']
    lines = []
    for name in sorted(pa.keys() | pb.keys()):
        if name not in pb:
            lines.append(f'removed: {name}=={pa[name]}')
        elif name not in pa:
            lines.append(f'added: {name}=={pb[name]}')
        elif pa[name] != pb[name]:
            lines.append(f'changed: {name} {pa[name]} -> {pb[name]}')
    return lines


def dict_changes(a, b, keys=None):
    keys = keys or sorted(set(a) | set(b))
    return [f'{k}: {a.get(k)!r} -> {b.get(k)!r}' for k in keys if a.get(k) != b.get(k)]


def final_metrics(run_dir):
    """({path: {name: last value}} for every progress CSV and TensorBoard event
    file of a run, [notes on those skipped]).

    A CSV gives its final row (cells as text); an event file the last
    (step, value) of each scalar tag, in file order.
    """
    out, notes = {}, []
    for entry in safefs.walk(run_dir):
        if not entry.rel.endswith('.csv') and not is_events(entry.rel):
            continue
        if entry.kind != 'file':
            notes.append(f'skipped {display(entry.rel)}: a {entry.kind}, not read')
            continue
        try:
            if is_events(entry.rel):
                last = {tag: (step, value)
                        for step, tag, value in read_scalars(run_dir, entry.rel)}
            else:
                rows = read_table(run_dir, entry.rel)
                last = {k: _cell(v) for k, v in rows[-1].items()} if rows else {}
        except ReproError as exc:
            notes.append(f'skipped: {exc}')
            continue
        if last:
            out[entry.rel] = last
    return out, notes


def _cell(value):
    """A CSV cell as one printable string (missing cells are None, extras a list)."""
    return '-' if value is None else display(','.join(value) if isinstance(value, list)
                                             else value)


def short_float(value):
    """The shortest text that reads back as ``value``'s float32, when it is one
    (``simple_value`` is float32, whose double repr is 17 noisy digits), else repr."""
    try:
        as_f32 = struct.unpack('<f', struct.pack('<f', value))[0]
    except OverflowError:  # beyond float32's range
        return repr(value)
    if as_f32 != value:  # a double, or NaN
        return repr(value)
    for digits in range(1, 10):  # 9 significant digits always round-trip a float32
        text = repr(float(f'{value:.{digits}g}'))
        if struct.unpack('<f', struct.pack('<f', float(text)))[0] == value:
            return text


def _text(value):
    if isinstance(value, tuple):  # (step, value) of an event scalar
        return f'{short_float(value[1])} @{value[0]}'
    return value


def pair_metric_files(a, b, paths_a, paths_b):
    """(pairs, lines on the unpaired): paired as a replay pairs outputs, with
    each run's recorded hostname a wildcard in names."""
    hosts = tuple(m.get('hostname') if isinstance(m.get('hostname'), str) else None
                  for m in (a, b))
    found = pair(paths_a, paths_b, hosts)
    return found.pairs, ([f'only in a: {display(p)}' for p in found.only_original]
                         + [f'only in b: {display(p)}' for p in found.only_replay]
                         + [f'not paired: {amb}' for amb in found.ambiguous])


def metrics_side_by_side(store, a, b):
    ma, notes_a = final_metrics(store.run_dir(a['run_id']))
    mb, notes_b = final_metrics(store.run_dir(b['run_id']))
    pairs, unpaired = pair_metric_files(a, b, ma, mb)
    lines = [f'a: {n}' for n in notes_a] + [f'b: {n}' for n in notes_b] + unpaired
    for path_a, path_b in pairs:
        what = 'last value @step of each tag' if is_events(path_a) else 'final row'
        lines.append(f'{display(path_a)} ({what})')
        ra, rb = ma[path_a], mb[path_b]
        width = max((len(display(k)) for k in ra.keys() | rb.keys()), default=0)
        for key in sorted(ra.keys() | rb.keys()):
            # repr: exact for floats and equal for NaN, so a one-ulp change is marked
            mark = '' if repr(ra.get(key)) == repr(rb.get(key)) else '  *'
            lines.append(f'  {display(key):<{width}}  {_text(ra.get(key, "-")):>20}  '
                         f'{_text(rb.get(key, "-")):>20}{mark}')
    return lines


def diff_runs(store, a, b, patch=False):
    """[(section title, lines)] comparing manifests ``a`` and ``b``."""
    return [
        ('code', code_changes(store, a, b, patch)),
        ('dependencies', dependency_changes(store, a, b)),
        ('image', dict_changes(a['image'], b['image'], ['id', 'key', 'base', 'base_digest',
                                                         'dockerfile_sha256'])),
        ('seed and arguments', dict_changes(a, b, ['launcher', 'seed', 'args', 'network',
                                                   'gpus'])),
        ('determinism', dict_changes(a.get('determinism') or {}, b.get('determinism') or {})),
        ('host', host_differences(a.get('host') or {}, b.get('host') or {})),
        ('metrics', metrics_side_by_side(store, a, b)),
    ]
