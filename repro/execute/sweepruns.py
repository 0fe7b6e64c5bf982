"""A sweep's members, read from their runs: each member's attempts (through
the sweep's attempt index), which attempt wins, superseding a stale one, and
the views the commands show (``repro sweep status``, ``ls --sweep``, ``plot
--sweep``, ``replay --sweep``).

A member's status is that of its attempts' manifests, never a record several
nodes would have to write: the first attempt that succeeded wins.
"""
import datetime
import os

from repro.errors import ConfigError, ReproError


def read_record(store, ref):
    """The sweep's record, checked; its Slurm options as strictly as the
    project's own (they would go into a batch script)."""
    from repro.record.config import check_slurm_options
    from repro.store.sweeps import SweepStore
    record = SweepStore(store).read(ref)
    if record.get('slurm') is not None:
        try:
            check_slurm_options(record['slurm'])
        except ConfigError as exc:
            raise ReproError(f'sweep {record["sweep_id"]}: its record is damaged or forged '
                             f'({exc.message})') from None
    return record


def attempts(store, record, indices=None):
    """{member index: manifests of its attempts, oldest first}, read from the
    runs (a member without any has no key); only ``indices`` if given.

    A sweep made with the attempt index (``attempt_index`` in its record)
    reads each member's folder of it; an older one scans the manifests."""
    from repro.store.sweeps import SweepStore
    indices = range(len(record['members'])) if indices is None else indices
    if not record.get('attempt_index'):
        return _scanned_attempts(store, record, set(indices))
    index, found = SweepStore(store).attempt_index(record['sweep_id']), {}
    for i in indices:
        runs = [m for _n, run_id in index.runs(i)
                if (m := _member_manifest(store, run_id, record['sweep_id'], i)) is not None]
        if runs:
            found[i] = runs
    return _oldest_first(found)


def _member_manifest(store, run_id, sweep_id, index):
    """Run ``run_id``'s manifest if it is a sound one of member ``index`` of
    the sweep, else None."""
    from repro.store.manifest_loader import read
    try:
        manifest, problems = read(store, run_id)
    except ReproError:
        return None
    sweep = (manifest or {}).get('sweep')
    if problems or not isinstance(sweep, dict) or sweep.get('id') != sweep_id \
            or sweep.get('index') != index or isinstance(sweep.get('index'), bool):
        return None
    return manifest


def _scanned_attempts(store, record, indices):
    """:func:`attempts` of a sweep without the attempt index: every manifest
    newer than the sweep is read."""
    from repro.store.manifest_loader import read
    sweep_id = record['sweep_id']
    # Run ids start with the time too: skip older runs unread, a day early,
    # as a node's clock may lag the submitting host's.
    made = datetime.datetime.strptime(sweep_id[:15], '%Y%m%d-%H%M%S')
    since = (made - datetime.timedelta(days=1)).strftime('%Y%m%d-%H%M%S')
    found = {}
    for run_id in store.run_ids():
        if run_id[:15] < since:
            continue
        try:
            manifest, problems = read(store, run_id)
        except ReproError:
            continue
        sweep = (manifest or {}).get('sweep')
        if problems or not isinstance(sweep, dict) or sweep.get('id') != sweep_id:
            continue
        index = sweep.get('index')
        if isinstance(index, int) and index in indices:
            found.setdefault(index, []).append(manifest)
    return _oldest_first(found)


def _oldest_first(found):
    for runs in found.values():  # start times have whole seconds: the number decides
        runs.sort(key=lambda m: (_attempt(m), str(m.get('start_time')), m['run_id']))
    return found


def _attempt(manifest):
    number = manifest['sweep'].get('attempt')
    return number if isinstance(number, int) else 0


def by_member(store, record):
    found = attempts(store, record)
    return {m['index']: found.get(m['index'], []) for m in record['members']}


def succeeded(runs):
    """Whether one of a member's attempts succeeded."""
    return any(m['status'] == 'succeeded' for m in runs)


def winner(runs):
    """The attempt that counts: the first to succeed (by end time), else the latest."""
    done = sorted((m for m in runs if m['status'] == 'succeeded'),
                  key=lambda m: (str(m.get('end_time')), m['run_id']))
    return done[0] if done else (runs[-1] if runs else None)


def supersede(store, record, runs, by):
    """Mark the attempts that still say ``running`` interrupted: Slurm runs one
    instance of an array task at a time, so a new attempt means they are gone.

    Two tasks of one member may do this at once (a node Slurm gave up on
    that still runs, a resume beside a requeue): only the one that claims an
    attempt in the index rewrites it, and only if its manifest, read again
    just before, still says ``running``."""
    from repro.store.sweeps import SweepStore
    index = SweepStore(store).attempt_index(record['sweep_id']) \
        if record.get('attempt_index') else None
    for manifest in runs:
        member = manifest['sweep']['index']
        if manifest['status'] != 'running' or (
                index is not None and not _claim_superseding(index, member, manifest)):
            continue
        now = _member_manifest(store, manifest['run_id'], record['sweep_id'], member)
        if now is not None and now['status'] == 'running':
            now.update(status='interrupted', exit_code=None,
                       error=f'superseded by a new attempt (job {by}): its node was lost '
                             'or its job requeued')
            store.write_manifest(now['run_id'], now)


def _claim_superseding(index, member, manifest):
    """Whether this task may supersede ``manifest``: it must be listed in the
    index under its number (else it is no attempt to claim), and the claim won."""
    number = dict((run_id, n) for n, run_id in index.runs(member)).get(manifest['run_id'])
    return number is not None and index.claim_superseding(member, number)


def last_line(store, run_id):
    """The last line the member printed (its logs are container output: escaped)."""
    from repro.core import safefs
    try:
        with safefs.open_regular(store.run_dir(run_id), 'logs/stdout.log') as f:
            f.seek(max(0, os.fstat(f.fileno()).st_size - 4096))
            lines = [ln for ln in f.read().splitlines() if ln.strip()]
    except ReproError:
        return ''
    return safefs.printable(lines[-1].decode('utf-8', 'replace'))[:200] if lines else ''


def status_rows(store, ref):
    """(record, rows) for ``repro sweep status``: each member's status, node,
    run and number of attempts, read from the runs' own manifests."""
    from repro.engines.liveness import status_of
    record = read_record(store, ref)
    queued = {}
    if record['engine'] == 'slurm' and record['jobs']:
        from repro.execute import slurm
        try:
            queued = slurm.task_states(record['jobs'])
        except ReproError:
            queued = {}  # status still shows what the manifests say
    rows = []
    for index, runs in by_member(store, record).items():
        member, best = record['members'][index], winner(runs)
        status = status_of(best) if best else 'pending'
        if queued.get(index) == 'PENDING' and status != 'succeeded':
            status = 'queued'
        sweep = (best or {}).get('sweep') or {}
        rows.append({'index': index, 'name': member['name'], 'seed': member['seed'],
                     'status': status, 'run_id': best['run_id'] if best else '',
                     'node': sweep.get('node') or (record['engine'] if best else ''),
                     'attempts': len(runs)})
    return record, rows


def list_sweeps(store):
    """One summary per sweep in the store, oldest first; a damaged record is
    listed as such, never hides the others."""
    from repro.store.sweeps import SweepStore
    sweeps = SweepStore(store)
    found = []
    for sweep_id in sweeps.ids():
        try:
            record = sweeps.read(sweep_id)
        except ReproError as exc:
            found.append({'sweep_id': sweep_id, 'error': exc.message})
            continue
        found.append({'sweep_id': sweep_id, 'launcher': record['launcher'],
                      'engine': record['engine'], 'members': len(record['members']),
                      'created': record['created']})
    return found


def replay_members(store, ref, sample=0):
    """(sweep id, members to replay): those whose run succeeded, all of them
    or ``sample`` picked at random with the sweep id as the seed (so the same
    command replays the same members)."""
    import random
    record = read_record(store, ref)
    done = [{**record['members'][i], 'run_id': winner(runs)['run_id']}
            for i, runs in by_member(store, record).items()
            if succeeded(runs)]
    if not done:
        raise ReproError(f'sweep {record["sweep_id"]} has no succeeded member to replay')
    if sample and sample < len(done):
        done = sorted(random.Random(record['sweep_id']).sample(done, sample),
                      key=lambda m: m['index'])
    return record['sweep_id'], done


def member_runs(store, ref, succeeded_only=False):
    """(sweep id, run ids: every attempt, or each member's winning success)."""
    record = read_record(store, ref)
    ids = []
    for runs in by_member(store, record).values():
        if succeeded_only:
            best = winner(runs)
            ids += [best['run_id']] if best and best['status'] == 'succeeded' else []
        else:
            ids += [m['run_id'] for m in runs]
    return record['sweep_id'], sorted(ids)
