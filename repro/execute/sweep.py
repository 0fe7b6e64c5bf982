"""``repro sweep``: many runs of one launcher from one snapshot and one image.

A sweep prepares once (source snapshot, lock check, image), writes its
record, then executes every member as an ordinary run with its own manifest
(plus ``sweep: {id, index, params}``). The local engine runs members as
parallel containers, each pinned to its own CPUs when there are enough, and
every member's torch/BLAS thread count is fixed by ``threads``: a member's
numbers must not depend on how many members run beside it.

The record keeps what a resume needs (the snapshot's tree, the lock, the
image record and the diff, all by content in the store), so ``resume`` runs
the missing members from the same inputs, never from the working tree.
"""
import concurrent.futures
import datetime
import hashlib
import os
import queue
import threading
from typing import NamedTuple

from repro.errors import ConfigError, ReproError
from repro.execute.runspec import RunIO, RunSpec, StopSignal
from repro.execute.sweepplan import MAX_MEMBERS, count, member_args, members, parse_grid, \
    parse_seeds

ENGINES = ('local',)


class SweepResult(NamedTuple):
    sweep_id: str
    succeeded: int
    total: int


class SweepRequest(NamedTuple):
    """What the user asked for; checked by :func:`plan` before anything runs."""
    launcher: str
    seeds: str
    grid: tuple = ()
    args: tuple = ()
    engine: str = 'local'
    max_parallel: int = 0          # 0: one member per core (per ``threads`` cores)
    threads: int = 1
    network: bool = False
    gpus: str = None
    yes: bool = False


def plan(request):
    """The members of ``request`` (pure): one-line errors for bad input."""
    from repro.execute.run import check_inputs
    if request.engine not in ENGINES:
        raise ConfigError(f'unknown engine {request.engine!r}: use {" or ".join(ENGINES)}')
    if request.threads < 1 or request.max_parallel < 0:
        raise ConfigError('--threads must be at least 1 and --max-parallel not negative')
    seeds, grid = parse_seeds(request.seeds), parse_grid(request.grid)
    n = count(seeds, grid)
    if n > MAX_MEMBERS and not request.yes:
        raise ConfigError(f'this sweep has {n} members (more than {MAX_MEMBERS})',
                          'pass --yes if you mean it')
    check_inputs(None, list(request.args))
    return members(seeds, grid)


def cpu_slots(threads, parallel, cpus=None):
    """CPU sets (``'0,1'``) for ``parallel`` members of ``threads`` each, or
    None when the machine has too few CPUs to give each member its own (pure)."""
    cpus = sorted(cpus if cpus is not None else os.sched_getaffinity(0))
    if parallel * threads > len(cpus):
        return None
    return [','.join(str(c) for c in cpus[i * threads:(i + 1) * threads])
            for i in range(parallel)]


def default_parallel(threads, cpus=None):
    n = len(cpus if cpus is not None else os.sched_getaffinity(0))
    return max(1, n // threads)


def start(request, *, connect, progress=print):
    """Prepare once, record the sweep, run every member; a :class:`SweepResult`."""
    from repro.execute.prepare import prepare, read_inputs
    from repro.execute.run import resolve_launcher
    from repro.store.runs import RunStore
    from repro.store.sweeps import SweepStore
    todo = plan(request)
    root, launcher = resolve_launcher(request.launcher)
    inputs = read_inputs(root)
    engine = connect()
    store = RunStore.for_project(root).ensure()
    prepared = prepare(inputs, store, engine, progress, launchers=[launcher])
    diff_sha = hashlib.sha256(prepared.diff).hexdigest()
    store.put_object(diff_sha, prepared.diff)
    record = {
        'launcher': launcher, 'engine': request.engine, 'created': _now(),
        'seeds': request.seeds, 'grid': list(request.grid), 'args_written': list(request.args),
        'threads': request.threads, 'network': bool(request.network), 'gpus': request.gpus,
        'image': prepared.image_id,
        'prepared': {'tree': prepared.tree, 'git': prepared.git_record,
                     'lock': prepared.lock_record(), 'image': dict(prepared.image_record),
                     'diff_sha256': diff_sha},
        'members': [{'index': m.index, 'seed': m.seed, 'params': dict(m.params),
                     'name': m.name, 'args': member_args(list(request.args), m),
                     'run_id': None, 'status': 'pending', 'attempts': []} for m in todo],
    }
    sweeps = SweepStore(store)
    sweep_id = sweeps.create(launcher, record)
    progress(f'sweep {sweep_id}: {len(todo)} members, image {prepared.image_id[:19]}')
    record = sweeps.read(sweep_id)
    return _execute(engine, sweeps, record, prepared, request.max_parallel, progress)


def resume(store, ref, *, connect, max_parallel=0, progress=print):
    """Run the members of sweep ``ref`` that have no succeeded run, from the
    sweep's own recorded inputs; a :class:`SweepResult`."""
    from repro.execute.recorded import check_inputs, ensure_recorded_image, recorded_run
    from repro.store.sweeps import SweepStore
    sweeps = SweepStore(store)
    record = sweeps.read(ref)
    inputs = dict(record['prepared'], run_id=f'of sweep {record["sweep_id"]}')
    engine = connect()
    files, lock, dockerfile = check_inputs(store, inputs)
    image_id = ensure_recorded_image(engine, store, inputs, lock, dockerfile, progress)
    diff = store.read_object(record['prepared']['diff_sha256'])
    if hashlib.sha256(diff).hexdigest() != record['prepared']['diff_sha256']:
        raise ReproError(f'the source diff of sweep {record["sweep_id"]} in the store does '
                         'not match its record')
    prepared = recorded_run(store, engine, inputs, files, lock, image_id, diff=diff)
    return _execute(engine, sweeps, record, prepared, max_parallel, progress)


def _execute(engine, sweeps, record, prepared, max_parallel, progress):
    """Run the record's members that have not succeeded; Ctrl-C stops them all."""
    from repro.engines.liveness import runner_record
    from repro.execute.container import execute
    store, sweep_id = sweeps.store, record['sweep_id']
    succeeded = {m['index'] for m in record['members'] if _succeeded(store, m)}
    todo = [m for m in record['members'] if m['index'] not in succeeded]
    threads = record['threads']
    parallel = min(max_parallel or default_parallel(threads), max(1, len(todo)))
    slots = cpu_slots(threads, parallel)
    if slots is None:
        progress(f'warning: {parallel} members of {threads} threads need more CPUs than '
                 'there are; members are not pinned (their numbers do not change: each '
                 'one\'s thread count is fixed)')
    free = queue.Queue()
    for slot in slots or [None] * parallel:
        free.put(slot)
    lock, stop, done = threading.Lock(), StopSignal(), [len(succeeded)]
    record['runner'] = runner_record()
    sweeps.write(sweep_id, record)
    total = len(record['members'])

    def update(member, **changes):
        with lock:
            member.update(changes)
            sweeps.write(sweep_id, record)

    def one(member):
        if stop.is_set:
            return
        cpuset = free.get()
        try:
            if stop.is_set:
                return
            # args_written None: the manifest's command is the member's own, in full
            spec = RunSpec(record['launcher'], member['seed'], tuple(member['args']),
                           None, record['gpus'], record['network'],
                           threads=threads, cpuset=cpuset,
                           sweep={'id': sweep_id, 'index': member['index'],
                                  'params': member['params']})
            update(member, status='running')
            with open(os.devnull, 'wb') as sink:  # the output is in the run's logs
                try:
                    result = execute(engine, store, spec, prepared,
                                     RunIO(sink, lambda m: None, stop))
                except ReproError as exc:
                    update(member, status='failed', error=exc.message)
                    progress(f'member {member["index"]} ({member["name"]}): failed: {exc}')
                    return
            with lock:
                member['attempts'] = [*member.get('attempts', []), result.run_id]
                member.update(run_id=result.run_id, status=result.status)
                if result.status == 'succeeded':
                    done[0] += 1
                sweeps.write(sweep_id, record)
                shown = done[0]
            why = '' if result.status == 'succeeded' else _last_line(store, result.run_id)
            progress(f'[{shown}/{total}] member {member["index"]} ({member["name"]}): '
                     f'{result.status}  {result.run_id}' + (f': {why}' if why else ''))
        finally:
            free.put(cpuset)

    if not todo:
        progress(f'all {total} members have succeeded already')
        return SweepResult(sweep_id, len(succeeded), total)
    progress(f'running {len(todo)} of {total} members, {parallel} at a time'
             + (f', each pinned to {threads} CPU(s)' if slots else ''))
    pool = concurrent.futures.ThreadPoolExecutor(parallel, thread_name_prefix='member')
    futures = []
    try:  # Ctrl-C may come at any point from here on
        futures += [pool.submit(one, m) for m in todo]
        pending = set(futures)
        while pending:  # timed: a Ctrl-C that lands on a worker thread is seen here
            done_now, pending = concurrent.futures.wait(
                pending, timeout=1, return_when=concurrent.futures.FIRST_COMPLETED)
            for future in done_now:
                future.result()
    except KeyboardInterrupt:
        progress('interrupted: stopping every member ...')
        stop.stop()
        for future in futures:
            future.cancel()
        pool.shutdown(wait=True)
        with lock:
            for member in todo:
                if member['status'] in ('pending', 'running'):
                    member['status'] = 'interrupted'
            sweeps.write(sweep_id, record)
        raise
    pool.shutdown(wait=True)
    return SweepResult(sweep_id, done[0], total)


def _last_line(store, run_id):
    """The last line the member printed (its logs are container output: escaped)."""
    from repro.core import safefs
    try:
        with safefs.open_regular(store.run_dir(run_id), 'logs/stdout.log') as f:
            f.seek(max(0, os.fstat(f.fileno()).st_size - 4096))
            lines = [ln for ln in f.read().splitlines() if ln.strip()]
    except ReproError:
        return ''
    return safefs.printable(lines[-1].decode('utf-8', 'replace'))[:200] if lines else ''


def _succeeded(store, member):
    """True if the member's run has a readable, succeeded manifest."""
    from repro.store.manifest_loader import read
    if not member.get('run_id'):
        return False
    try:
        manifest, problems = read(store, member['run_id'])
    except ReproError:
        return False
    return manifest is not None and not problems and manifest.get('status') == 'succeeded'


def status_rows(store, ref):
    """(record, rows) for ``repro sweep status``: each member's run, status and node,
    the status read from the run's own manifest (the record may lag behind)."""
    from repro.engines.liveness import status_of
    from repro.store.manifest_loader import read
    from repro.store.sweeps import SweepStore
    record = SweepStore(store).read(ref)
    rows = []
    for member in record['members']:
        status, node = member.get('status', 'pending'), ''
        if member.get('run_id'):
            try:
                manifest, problems = read(store, member['run_id'])
            except ReproError:
                manifest, problems = None, ['unreadable']
            status = 'broken' if manifest is None or problems else status_of(manifest)
            node = member.get('node') or record['engine']
        rows.append({'index': member['index'], 'name': member['name'], 'seed': member['seed'],
                     'status': status, 'run_id': member.get('run_id') or '', 'node': node})
    return record, rows


def replay_members(store, ref, sample=0):
    """(sweep id, members to replay): those whose run succeeded, all of them
    or ``sample`` picked at random with the sweep id as the seed (so the same
    command replays the same members)."""
    import random

    from repro.store.sweeps import SweepStore
    record = SweepStore(store).read(ref)
    done = [m for m in record['members'] if _succeeded(store, m)]
    if not done:
        raise ReproError(f'sweep {record["sweep_id"]} has no succeeded member to replay')
    if sample and sample < len(done):
        done = sorted(random.Random(record['sweep_id']).sample(done, sample),
                      key=lambda m: m['index'])
    return record['sweep_id'], done


def member_runs(store, ref, succeeded_only=False):
    """(sweep id, run ids of its members' attempts, oldest first)."""
    from repro.store.sweeps import SweepStore
    record = SweepStore(store).read(ref)
    members = [m for m in record['members'] if not succeeded_only or _succeeded(store, m)]
    ids = [run_id for m in members
           for run_id in (m.get('attempts') or [])
           if not succeeded_only or run_id == m['run_id']]
    return record['sweep_id'], sorted(set(ids))


def cancel(store, ref, *, connect):
    """Stop a running local sweep: its runner gets SIGINT (it records its
    members ``interrupted``); containers left by a runner that died are stopped."""
    import signal

    from repro.engines.liveness import process_start
    from repro.store.sweeps import SweepStore
    record = SweepStore(store).read(ref)
    runner = record.get('runner') or {}
    pid = runner.get('pid')
    signalled = False
    if isinstance(pid, int) and pid > 0 and runner.get('start_ticks') is not None \
            and process_start(pid) == runner.get('start_ticks'):
        os.kill(pid, signal.SIGINT)
        signalled = True
    engine = connect()
    stopped = [cid for cid in engine.containers({'org.repro.sweep-id': record['sweep_id']})
               if engine.stop_container(cid)] if not signalled else []
    return record['sweep_id'], signalled, len(stopped)


def _now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')
