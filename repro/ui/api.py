"""The run browser's JSON endpoints, without HTTP: one function per endpoint.

Each reads the store through the code the commands use, so the browser
says what they say: manifests through :mod:`repro.store.manifest_loader`,
curves through :mod:`repro.audit.plot`, the verify button through
:func:`repro.audit.verify.check_run` (``repro verify``), the compare page
through :func:`repro.audit.rundiff.diff_runs` (``repro diff``) and
:func:`repro.audit.compare.compare_outputs` (what ``repro replay``
compares), a sweep through :func:`repro.execute.sweepruns.status_rows`
(``repro sweep status``). Nothing here writes.

Run ids are checked for their form (a 400) and then must name a run of the
store exactly (a 404); no prefix is resolved, so a URL names one run for good.
"""
import re

from repro.audit import plot
from repro.core import safefs
from repro.core.tables import is_events
from repro.errors import (ConfigError, ReproError, RunNotFoundError, StoreError,
                          UntrustedFileError)
from repro.store import manifest_loader
from repro.ui import views

RUN_ID = re.compile(r'^[0-9]{8}-[0-9]{6}-[A-Za-z0-9_.]{1,40}-s(None|-?[0-9]+)-[0-9a-f]{4}$')
MAX_ARTIFACT = 256 << 20  # served whole from memory; a bigger file is read with the CLI
MAX_DIFF = 2 << 20  # the source diff shown on a run page; a longer one is cut


def checked_id(store, run_id):
    """``run_id`` when it has the store's id form and names a run, else an error."""
    if not isinstance(run_id, str) or not RUN_ID.match(run_id):
        raise ConfigError(f'not a valid run id: {safefs.display(str(run_id))[:80]!r}',
                          'run ids look like 20261124-021000-name-s0-3fa2')
    if run_id not in store.run_ids():
        raise RunNotFoundError(f'no run {run_id}')
    return run_id


def _manifests(store):
    """[(run id, manifest or None, problems)] of every run, oldest first."""
    return [(run_id, *manifest_loader.read(store, run_id)) for run_id in store.run_ids()]


def runs(store):
    """``GET /api/runs``: one row per run; a broken run is listed with its reason."""
    from repro.engines.liveness import status_of
    found = _manifests(store)
    replays = views.replayed_by([m for _id, m, problems in found if m and not problems])
    return {'runs': [views.broken_row(run_id, problems[0]) if m is None or problems else
                     views.run_row(m, status_of(m), replays.get(run_id, ()))
                     for run_id, m, problems in found]}


def run(store, run_id):
    """``GET /api/runs/{id}``: the manifest laid out, lineage both ways, metrics."""
    from repro.engines.liveness import status_of
    manifest, problems = manifest_loader.read(store, checked_id(store, run_id))
    if manifest is None:
        raise StoreError(f'run {run_id} has a broken manifest: {problems[0]}')
    replays = views.replayed_by([m for _id, m, p in _manifests(store)
                                 if m and not p and m.get('replay_of') == run_id])
    return {**views.run_detail(manifest, status_of(manifest), problems,
                               replays.get(run_id, []), metrics(store, run_id)),
            'diff': source_diff(store, run_id)}


def source_diff(store, run_id):
    """The uncommitted diff the run was made from (``meta/source.diff``), as lines
    of text a person reads; whether it is the recorded one is the verify button's job."""
    try:
        with safefs.open_regular(store.run_dir(run_id), 'meta/source.diff') as f:
            data = f.read(MAX_DIFF + 1)
    except UntrustedFileError as exc:
        return {'lines': [], 'note': exc.message}
    lines = data[:MAX_DIFF].decode('utf-8', 'replace').splitlines()
    return {'lines': [safefs.printable(ln) for ln in lines],
            'note': 'cut at 2 MiB' if len(data) > MAX_DIFF else None}


def metrics(store, run_id):
    """The curves a run has: progress.csv columns and TensorBoard scalar tags."""
    run_dir, notes = store.run_dir(run_id), []
    try:
        rows = plot.progress_rows(run_dir)
    except ReproError as exc:
        rows = []
        notes.append(exc.message)
    tags = set()
    for entry in safefs.walk(run_dir):
        if not is_events(entry.rel):
            continue
        try:
            tags.update(tag for _step, tag, _v in plot.read_scalars(run_dir, entry.rel))
        except ReproError as exc:  # a link, FIFO or malformed file: named, not read
            notes.append(exc.message)
    return {'progress': sorted(rows[0]) if rows else [], 'tensorboard': sorted(tags),
            'notes': notes}


def scalars(store, run_id, metric):
    """``GET /api/runs/{id}/scalars?metric=``: [[x, y]…] of one curve."""
    if not metric:
        raise ConfigError('give ?metric=NAME (a progress.csv column or TensorBoard tag)')
    checked_id(store, run_id)
    x_name, xs, ys = plot.run_series(store.run_dir(run_id), metric, f'run {run_id}')
    return {'run_id': run_id, 'metric': metric, **views.curve(x_name, xs, ys)}


def verify(store, run_id):
    """``POST /api/runs/{id}/verify``: what ``repro verify RUN`` prints; reads only."""
    from repro.audit.verify import check_run
    from repro.errors import VerificationError
    lines = []
    try:
        check_run(store, checked_id(store, run_id), lines.append)
    except VerificationError as exc:
        return {'run_id': run_id, 'ok': False, 'summary': exc.message, 'lines': lines}
    return {'run_id': run_id, 'ok': True, 'summary': lines[-1], 'lines': lines}


def compare(store, a, b, metric=None):
    """``GET /api/compare?a=&b=&metric=``: ``repro diff``'s sections, the outputs
    compared as a replay compares them, and one metric's curves overlaid with
    the first point where they part."""
    from repro.audit.compare import compare_outputs
    from repro.audit.rundiff import diff_runs
    ma, mb = (manifest_loader.load(store, checked_id(store, ref)) for ref in (a, b))
    outputs = compare_outputs(store.run_dir(a), store.run_dir(b),
                              hostnames=(ma.get('hostname'), mb.get('hostname')))
    available = metrics(store, a)
    metric = metric or views.default_metric(available)
    curves = {}
    for side, run_id in (('a', a), ('b', b)):
        try:
            curves[side] = scalars(store, run_id, metric) if metric else None
        except ReproError as exc:
            curves[side] = {'error': exc.message, 'points': []}
    marked = (views.first_divergence(curves['a']['points'], curves['b']['points'])
              if metric and not any('error' in c for c in curves.values()) else None)
    rows = {row['run_id']: row for row in runs(store)['runs']}
    return {'a': rows[a], 'b': rows[b],
            'sections': [{'title': title, 'lines': [safefs.printable(ln) for ln in lines]}
                         for title, lines in diff_runs(store, ma, mb)],
            'outputs': outputs.to_json(), 'metric': metric, 'metrics': available,
            'curves': curves, 'divergence': marked}


def sweeps(store):
    """``GET /api/sweeps``: one summary per sweep (a damaged record says so)."""
    from repro.execute.sweepruns import list_sweeps
    return {'sweeps': list_sweeps(store)}


def sweep(store, sweep_id, metric=None):
    """``GET /api/sweeps/{id}?metric=``: members by grid point with their status,
    and the mean and spread of the metric across seeds (by default the one a
    run page shows first, of the first succeeded member)."""
    from repro.execute.sweepruns import status_rows
    record, rows = status_rows(store, sweep_id)
    done = [row['run_id'] for row in rows if row['status'] == 'succeeded' and row['run_id']]
    if not metric:
        metric = (views.default_metric(metrics(store, done[0])) if done else None) \
            or 'AverageReturn'
    series = {}
    for run_id in done:
        try:
            series[run_id] = plot.run_series(store.run_dir(run_id), metric)
        except ReproError:  # no such metric, or an unreadable file: no value
            pass
    return {'sweep_id': record['sweep_id'], 'launcher': record['launcher'],
            'engine': record['engine'], 'created': record['created'], 'metric': metric,
            'points': views.grid_points(record, rows, series)}


def artifact(store, run_id, path):
    """``GET /api/runs/{id}/artifacts/{path}``: the bytes of a recorded regular file.

    Only a path the manifest lists as a regular file is served, read without
    following a link (:func:`repro.core.safefs.read_bytes`), and only while
    its bytes still have the recorded sha256: a modified file is refused,
    with ``repro verify``'s word for it.
    """
    import hashlib
    manifest = manifest_loader.load(store, checked_id(store, run_id))
    safefs.check_relative(path)
    entry = next((a for a in views.artifact_rows(manifest['artifacts'])
                  if a['path'] == path and a['download']), None)
    if entry is None:
        raise RunNotFoundError(f'run {run_id} records no regular file '
                               f'{safefs.display(path)!r}')
    data = safefs.read_bytes(store.run_dir(run_id), path, MAX_ARTIFACT)
    if hashlib.sha256(data).hexdigest() != entry['sha256']:
        raise UntrustedFileError(f'{safefs.display(path)} was modified since the run '
                                 'recorded it', f'see `repro verify {run_id}`')
    return data
