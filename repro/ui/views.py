"""What the run browser shows, as plain JSON (pure: manifests in, dicts out).

Every value comes from the run store, which a container or whoever handed
the store over controls. Values go out as JSON data and the browser puts
them into the page as text (``textContent``), never as markup; names a
person reads (paths, metrics) are escaped with ``safefs.display`` as the
CLI prints them. A forged manifest may hold any type anywhere: nothing here
raises on one.
"""
import math

from repro.audit.plot import mean_and_std
from repro.audit.render import run_summary
from repro.core.safefs import display

VERDICT_ORDER = ('REPRODUCED', 'UNVERIFIED ORIGINAL', 'NOTHING COMPARED', 'DIVERGED')


def _section(manifest, key):
    value = manifest.get(key)
    return value if isinstance(value, dict) else {}


def _text(value):
    return value if isinstance(value, str) else None


def replayed_by(manifests):
    """{original run id: [{run_id, verdict}] of its replays, oldest first}."""
    found = {}
    for m in sorted(manifests, key=lambda m: str(m.get('run_id'))):
        original = _text(m.get('replay_of'))
        if original:
            found.setdefault(original, []).append(
                {'run_id': m.get('run_id'), 'verdict': _text(m.get('replay_verdict'))})
    return found


def verdict_of(manifest, replays):
    """The replay verdict a run shows: a replay's own; an original's latest replay's."""
    if manifest.get('replay_of'):
        return _text(manifest.get('replay_verdict'))
    return replays[-1]['verdict'] if replays else None


def run_row(manifest, status=None, replays=()):
    """One row of the runs table (``/api/runs``)."""
    summary = run_summary(manifest, status)
    sweep = _section(manifest, 'sweep')
    return {**summary,
            'image': _text(_section(manifest, 'image').get('id')),
            'sweep': _text(sweep.get('id')),
            'grid_point': _point(sweep.get('params')),
            'verdict': verdict_of(manifest, list(replays))}


def broken_row(run_id, problem):
    """A run whose manifest cannot be used: listed with the reason, never hidden."""
    return {**run_row({'run_id': run_id}, 'broken'), 'error': problem}


def _point(params):
    if not isinstance(params, dict):
        return None
    return ','.join(f'{k}={v}' for k, v in sorted(params.items(), key=lambda kv: str(kv)))


def artifact_rows(artifacts):
    """Artifacts with their hashes; a link, FIFO or device by its type."""
    rows = []
    for a in artifacts if isinstance(artifacts, list) else []:
        a = a if isinstance(a, dict) else {}
        path = display(a.get('path'))
        rows.append({'path': path, 'size': a.get('size'),
                     'sha256': _text(a.get('sha256')), 'type': _text(a.get('type')) or 'file',
                     'target': display(a['target']) if a.get('target') is not None else None,
                     # only a regular file recorded by a plain path (nothing escaped) is served
                     'download': a.get('path_hex') is None and not a.get('type')
                     and isinstance(a.get('sha256'), str) and path == a.get('path')})
    return rows


def run_detail(manifest, status, problems, replays, metrics):
    """``/api/runs/{id}``: the manifest laid out for the run page."""
    git = _section(manifest, 'git')
    return {
        'run': run_row(manifest, status, replays),
        'unverified': list(problems),  # an edited manifest: shown, marked
        'command': manifest.get('command'), 'replay': manifest.get('replay'),
        'args': manifest.get('args'), 'exit_code': manifest.get('exit_code'),
        'start_time': manifest.get('start_time'), 'end_time': manifest.get('end_time'),
        'git': {k: git.get(k) for k in ('commit', 'branch', 'remote', 'dirty', 'tree',
                                        'diff_sha256')},
        'lock': _section(manifest, 'lock'), 'image': _section(manifest, 'image'),
        'determinism': _section(manifest, 'determinism'), 'host': _section(manifest, 'host'),
        'env': _section(manifest, 'env'), 'network': manifest.get('network'),
        'threads': manifest.get('threads'), 'repro_version': manifest.get('repro_version'),
        'lineage': {'replay_of': _text(manifest.get('replay_of')),
                    'replay_verdict': _text(manifest.get('replay_verdict')),
                    'replayed_by': list(replays),
                    'resumed_from': _text(manifest.get('resumed_from'))},
        'sweep': _section(manifest, 'sweep') or None,
        'artifacts': artifact_rows(manifest.get('artifacts')),
        'metrics': metrics,
    }


def finite(value):
    """A number JSON can carry: NaN and infinities become None (a gap in a curve)."""
    return value if isinstance(value, (int, float)) and math.isfinite(value) else None


def curve(x_name, xs, ys):
    """``/api/runs/{id}/scalars``' points: [[x, y]…], y None where not finite."""
    return {'x': display(x_name), 'points': [[finite(x), finite(y)] for x, y in zip(xs, ys)]}


def first_divergence(points_a, points_b):
    """The first index where two curves differ (a point, or one ends first), else None."""
    for i, (pa, pb) in enumerate(zip(points_a, points_b)):
        if pa != pb:
            return {'index': i, 'x': pa[0], 'a': pa[1], 'b': pb[1]}
    if len(points_a) != len(points_b):
        i = min(len(points_a), len(points_b))
        longer = points_a if len(points_a) > i else points_b
        return {'index': i, 'x': longer[i][0], 'a': None, 'b': None}
    return None


def default_metric(metrics):
    """The curve a page shows first: AverageReturn, else the first learned column
    of progress.csv, else the first TensorBoard tag."""
    columns = [c for c in metrics.get('progress', []) if c not in ('Epoch', 'TotalEnvSteps',
                                                                  'Iteration')]
    if 'AverageReturn' in columns:
        return 'AverageReturn'
    return (columns or metrics.get('tensorboard') or [None])[0]


def grid_points(record, rows, series):
    """``/api/sweeps/{id}``' grid: members by grid point with their status; for
    each point the mean and spread (population std, as ``repro plot --sweep``)
    across seeds of the metric's final value and of its curve. ``series`` is
    {run id: (x axis name, xs, ys)} of the members that have the metric."""
    points = {}
    for row in rows:
        member = record['members'][row['index']]
        point = points.setdefault(_point(member['params']) or 'all',
                                  {'params': member['params'], 'members': []})
        xs_ys = series.get(row['run_id'])
        final = finite(xs_ys[2][-1]) if xs_ys and xs_ys[2] else None
        point['members'].append({**row, 'final': final})
    out = []
    for name, point in points.items():
        values = [m['final'] for m in point['members'] if m['final'] is not None]
        mean = sum(values) / len(values) if values else None
        std = (math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
               if values else None)
        curves = [series[m['run_id']] for m in point['members'] if series.get(m['run_id'])
                  and series[m['run_id']][2]]
        out.append({'name': name, **point, 'n': len(values), 'mean': finite(mean),
                    'std': finite(std), 'curve': mean_curve(curves)})
    return out


def mean_curve(curves):
    """The point-wise mean ± std of (x name, xs, ys) curves, cut to the shortest,
    as ``repro plot`` draws it: {x, mean: [[x, y]…], band: [[x, low, high]…]}."""
    if not curves:
        return None
    means, stds = mean_and_std([ys for _x, _xs, ys in curves])
    xs, _ = mean_and_std([xs for _x, xs, _ys in curves])
    return {'x': display(curves[0][0]),
            'mean': [[finite(x), finite(m)] for x, m in zip(xs, means)],
            'band': [[finite(x), finite(m - s), finite(m + s)]
                     for x, m, s in zip(xs, means, stds)]}
