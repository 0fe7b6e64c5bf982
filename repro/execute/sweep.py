"""``repro sweep``: many runs of one launcher from one snapshot and one image.

A sweep prepares once (source snapshot, lock check, image), writes its
record, then executes every member as an ordinary run with its own manifest
(plus ``sweep: {id, index, params}``). Every member's torch/BLAS thread
count is fixed by ``threads``: a member's numbers must not depend on how many
members run beside it, or on which node.

Engines: ``local`` runs members as parallel containers here, each pinned to
its own CPUs when there are enough; ``slurm`` submits one job array
(:mod:`repro.execute.slurm`). Either way the members' manifests are the
truth: a member's status is that of its attempts' runs (the first attempt
that succeeded wins), so nothing depends on a record several nodes would
have to write.

The record keeps what a resume or a node needs (the snapshot's tree, the
lock, the image record and the diff, all by content in the store), so
members always run from the sweep's own inputs, never from the working tree.
"""
import concurrent.futures
import datetime
import hashlib
import os
import queue
import threading
import time
from typing import NamedTuple, Optional

from repro.errors import ConfigError, ReproError
from repro.execute.runspec import RunIO, RunSpec, StopSignal
from repro.execute.sweepruns import attempts, by_member, last_line, read_record, succeeded
from repro.execute.sweepplan import LIMIT, MAX_MEMBERS, count, member_args, members, \
    parse_grid, parse_seeds

ENGINES = ('local', 'slurm')
POLL_SECONDS = 1   # how often Slurm is asked while a sweep is followed (see wait)


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
    max_parallel: int = 0          # 0: local, one member per core (per ``threads``); slurm, no cap
    threads: int = 1
    network: bool = False
    gpus: Optional[str] = None
    yes: bool = False
    slurm: Optional[dict] = None   # flags over [tool.repro.slurm]
    dry_run: bool = False          # slurm: print the batch script, submit nothing


def plan(request):
    """The members of ``request`` (pure): one-line errors for bad input."""
    from repro.execute.run import check_inputs
    if request.engine not in ENGINES:
        raise ConfigError(f'unknown engine {request.engine!r}: use {" or ".join(ENGINES)}')
    if request.threads < 1 or request.max_parallel < 0:
        raise ConfigError('--threads must be at least 1 and --max-parallel not negative')
    seeds, grid = parse_seeds(request.seeds), parse_grid(request.grid)
    n = count(seeds, grid)
    if n > LIMIT:
        raise ConfigError(f'this sweep has {n} members; a sweep holds at most {LIMIT}',
                          'split it into several sweeps')
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
    """Prepare once, record the sweep, run every member; a :class:`SweepResult`
    (or, for a Slurm ``dry_run``, the batch script as text)."""
    from repro.execute.prepare import prepare, read_inputs
    from repro.execute.run import resolve_launcher
    from repro.store.runs import RunStore
    from repro.store.sweeps import SweepStore
    todo = plan(request)
    root, launcher = resolve_launcher(request.launcher)
    inputs = read_inputs(root)
    options = None
    if request.engine == 'slurm':
        from repro.execute import slurm
        from repro.record.config import slurm_options
        options = {'cpus_per_task': request.threads, **slurm_options(root, request.slurm)}
        _warn_threads(request.threads, options, progress)
        if request.dry_run:
            return slurm.batch_script(
                sweep_id='SWEEP_ID', store_root=RunStore.for_project(root).root,
                indices=range(len(todo)), max_parallel=request.max_parallel,
                options=options, log_dir='STORE/sweeps/SWEEP_ID/slurm')
        slurm.check_available()
        slurm.check_array_size(len(todo))
    engine = connect()
    store = RunStore.for_project(root).ensure()
    prepared = prepare(inputs, store, engine, progress, launchers=[launcher])
    diff_sha = hashlib.sha256(prepared.diff).hexdigest()
    store.put_object(diff_sha, prepared.diff)
    if options is not None:
        slurm.save_image(engine, store.root, prepared.image_id, progress)
    record = {
        'launcher': launcher, 'engine': request.engine, 'created': _now(),
        'seeds': request.seeds, 'grid': list(request.grid), 'args_written': list(request.args),
        'threads': request.threads, 'network': bool(request.network), 'gpus': request.gpus,
        'image': prepared.image_id, 'jobs': [], 'slurm': options, 'attempt_index': 1,
        'prepared': {'tree': prepared.tree, 'git': prepared.git_record,
                     'lock': prepared.lock_record(), 'image': dict(prepared.image_record),
                     'diff_sha256': diff_sha},
        'members': [{'index': m.index, 'seed': m.seed, 'params': dict(m.params),
                     'name': m.name, 'args': member_args(list(request.args), m)}
                    for m in todo],
    }
    sweeps = SweepStore(store)
    sweep_id = sweeps.create(launcher, record)
    progress(f'sweep {sweep_id}: {len(todo)} members, image {prepared.image_id[:19]}')
    record = sweeps.read(sweep_id)
    if options is not None:
        return _submit(sweeps, record, range(len(todo)), request.max_parallel, progress)
    return _run_local(engine, sweeps, record, prepared, request.max_parallel, progress)


def _warn_threads(threads, options, progress):
    from repro.execute import slurm
    warning = slurm.thread_warning(threads, options)
    if warning:
        progress(f'warning: {warning}')


def resume(store, ref, *, connect, max_parallel=0, progress=print, network=False,
           project_root=None):
    """Run the members of sweep ``ref`` that have no succeeded run, from the
    sweep's own recorded inputs, on its engine; a :class:`SweepResult`.

    The store is not trusted: networking needs ``network`` (the user's
    ``--network``) as it does for a replay, and Slurm options come from the
    project's configuration now, not from the record."""
    from repro.store.sweeps import SweepStore
    sweeps = SweepStore(store)
    record = read_record(store, ref)
    if record['network'] and not network:
        raise ConfigError(f'sweep {record["sweep_id"]} was recorded with networking',
                          'pass --network to allow it again')
    _refuse_if_running(record)
    missing = [i for i, runs in by_member(store, record).items()
               if not succeeded(runs)]
    if not missing:
        progress(f'all {len(record["members"])} members have succeeded already')
        return SweepResult(record['sweep_id'], len(record['members']), len(record['members']))
    if record['engine'] == 'slurm':
        from repro.execute import slurm
        from repro.record.config import slurm_options
        slurm.check_available()
        record['slurm'] = {'cpus_per_task': record['threads'],
                           **(slurm_options(project_root) if project_root else {})}
        _warn_threads(record['threads'], record['slurm'], progress)
        return _submit(sweeps, record, missing, max_parallel, progress)
    engine = connect()
    prepared = recorded_inputs(store, engine, record, None, progress)
    return _run_local(engine, sweeps, record, prepared, max_parallel, progress)


def _refuse_if_running(record):
    """Two runners of one sweep would run members twice (and supersede each other)."""
    if record['engine'] == 'slurm':
        from repro.execute import slurm
        active = slurm.task_states(record['jobs'])
        if active:
            raise ConfigError(f'sweep {record["sweep_id"]} is still running on Slurm '
                              f'({len(active)} task(s) queued or running)',
                              f'wait for it, or `repro sweep cancel {record["sweep_id"]}`')
    elif _runner_alive(record.get('runner')):
        raise ConfigError(f'sweep {record["sweep_id"]} is still running here',
                          f'wait for it, or `repro sweep cancel {record["sweep_id"]}`')


def _runner_alive(runner):
    """True if ``runner`` (a record's) is a live repro process on this host:
    same host and boot, same start time, and a repro command line."""
    from repro.engines.liveness import here, process_start
    if not isinstance(runner, dict):
        return False
    pid, this = runner.get('pid'), here()
    if not (isinstance(pid, int) and not isinstance(pid, bool) and pid > 0
            and runner.get('host_id') == this['host_id']
            and runner.get('boot_id') == this['boot_id']
            and runner.get('start_ticks') is not None
            and process_start(pid) == runner.get('start_ticks')):
        return False
    try:
        with open(f'/proc/{pid}/cmdline', 'rb') as f:
            return b'repro' in f.read()
    except OSError:
        return False


def recorded_inputs(store, engine, record, image_id, progress=print):
    """The sweep's :class:`PreparedRun`, checked against the store. The image
    is ``image_id`` when the caller has proved it (a node that loaded the
    archive), else the one repro recorded (or rebuilds to the same ID).

    A node (an array task) does not re-read every source blob first: the
    exported tree it mounts is verified against the snapshot (or exported
    again from blobs checked as they are read), and that is what it runs."""
    from repro.execute.recorded import check_inputs, ensure_recorded_image, recorded_run
    inputs = dict(record['prepared'], run_id=f'of sweep {record["sweep_id"]}')
    files, lock, dockerfile = check_inputs(store, inputs, blobs=image_id is None)
    if image_id is None:
        image_id = ensure_recorded_image(engine, store, inputs, lock, dockerfile, progress)
    diff = store.read_object(record['prepared']['diff_sha256'])
    if hashlib.sha256(diff).hexdigest() != record['prepared']['diff_sha256']:
        raise ReproError(f'the source diff of sweep {record["sweep_id"]} in the store does '
                         'not match its record')
    return recorded_run(store, engine, inputs, files, lock, image_id, diff=diff)


def member_spec(record, member, cpuset=None, resume_from=None, gpus=None, **where):
    """The :class:`RunSpec` of one member; ``where`` (node, job, attempt) is
    recorded in its manifest's ``sweep`` section; ``gpus`` (a node's
    allocation) overrides the sweep's. ``resume_from``: the attempt it
    continues (:func:`resume_source`)."""
    # args_written None: the manifest's command is the member's own, in full
    return RunSpec(record['launcher'], member['seed'], tuple(member['args']), None,
                   gpus or record['gpus'], record['network'], threads=record['threads'],
                   cpuset=cpuset, resume_from=resume_from,
                   sweep={'id': record['sweep_id'], 'index': member['index'],
                          'params': member['params'],
                          **{k: v for k, v in where.items() if v is not None}})


def resume_source(runs):
    """The run a member's next attempt continues: its latest attempt, unless
    that one succeeded. Its outputs are mounted read-only; a launcher using
    LocalRunner goes on from its last snapshot (:mod:`repro.experiment.resume`)."""
    return runs[-1]['run_id'] if runs and runs[-1]['status'] != 'succeeded' else None


def execute_member(engine, store, spec, prepared, io):
    from repro.execute.container import execute
    return execute(engine, store, spec, prepared, io)


def _run_local(engine, sweeps, record, prepared, max_parallel, progress):
    """Run the members without a succeeded run here; Ctrl-C stops them all."""
    from repro.engines.liveness import runner_record
    store, sweep_id = sweeps.store, record['sweep_id']
    runs_of = by_member(store, record)
    done = [i for i, runs in runs_of.items() if succeeded(runs)]
    todo = [m for m in record['members'] if m['index'] not in done]
    total, threads = len(record['members']), record['threads']
    parallel = min(max_parallel or default_parallel(threads), max(1, len(todo)))
    slots = cpu_slots(threads, parallel)
    if slots is None:
        progress(f'warning: {parallel} members of {threads} threads need more CPUs than '
                 'there are; members are not pinned (their numbers do not change: each '
                 'one\'s thread count is fixed)')
    free = queue.Queue()
    for slot in slots or [None] * parallel:
        free.put(slot)
    lock, stop, finished = threading.Lock(), StopSignal(), [len(done)]
    record['runner'] = runner_record()  # what `sweep cancel` signals
    sweeps.write(sweep_id, record)

    def one(member):
        if stop.is_set:
            return
        cpuset = free.get()
        try:
            if stop.is_set:
                return
            with open(os.devnull, 'wb') as sink:  # the output is in the run's logs
                try:
                    runs = runs_of[member['index']]
                    spec = member_spec(record, member, cpuset, resume_source(runs),
                                       attempt=len(runs) + 1)
                    result = execute_member(engine, store, spec, prepared,
                                            RunIO(sink, lambda m: None, stop))
                except Exception as exc:  # noqa: BLE001 - one member must not orphan the rest
                    why = exc if isinstance(exc, ReproError) else f'{type(exc).__name__}: {exc}'
                    progress(f'member {member["index"]} ({member["name"]}): failed: {why}')
                    return
            with lock:
                finished[0] += result.status == 'succeeded'
                shown = finished[0]
            why = '' if result.status == 'succeeded' else last_line(store, result.run_id)
            progress(f'[{shown}/{total}] member {member["index"]} ({member["name"]}): '
                     f'{result.status}  {result.run_id}' + (f': {why}' if why else ''))
        finally:
            free.put(cpuset)

    if not todo:
        progress(f'all {total} members have succeeded already')
        return SweepResult(sweep_id, total, total)
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
        raise
    pool.shutdown(wait=True)
    return SweepResult(sweep_id, finished[0], total)


def _submit(sweeps, record, indices, max_parallel, progress):
    """Submit ``indices`` as one job array, then follow it to the end."""
    from repro.execute import slurm
    sweep_id = record['sweep_id']
    job_dir = os.path.join(sweeps.root, sweep_id, 'slurm')
    os.makedirs(job_dir, exist_ok=True)
    script = slurm.batch_script(sweep_id=sweep_id, store_root=sweeps.store.root,
                                indices=indices, max_parallel=max_parallel,
                                options=record['slurm'] or {}, log_dir=job_dir)
    path = os.path.join(job_dir, f'job-{len(record["jobs"])}.sh')
    with open(path, 'w', encoding='utf-8') as f:
        f.write(script)
    job = slurm.submit(path)
    record['jobs'] = [*record['jobs'], job]
    sweeps.write(sweep_id, record)
    progress(f'submitted job array {job} ({len(list(indices))} tasks); Ctrl-C stops '
             f'watching, not the sweep (`repro sweep cancel {sweep_id}` does)')
    return wait(sweeps.store, record, progress)


def wait(store, record, progress, poll=POLL_SECONDS):
    """Follow a Slurm sweep until none of its tasks is queued or running, or
    every member has succeeded (its manifest is final and its container
    gone; the task is only exiting). Slurm is asked every ``poll`` seconds,
    the attempt index more often: it is cheap, and the last member's end is
    seen at once."""
    from repro.execute import slurm
    total, shown, won, asked = len(record['members']), None, set(), None
    look = poll / 4 if record.get('attempt_index') else poll
    while True:
        if asked is None or time.monotonic() - asked >= poll - look / 2:
            queued, asked = slurm.task_states(record['jobs']), time.monotonic()
        todo = [i for i in range(total) if i not in won]  # a success is for good
        won.update(i for i, runs in attempts(store, record, todo).items() if succeeded(runs))
        running = sum(state == 'RUNNING' for state in queued.values())
        line = f'{len(won)}/{total} succeeded, {running} running, ' \
               f'{len(queued) - running} queued'
        if line != shown:
            progress(line)
            shown = line
        if len(won) == total:
            return SweepResult(record['sweep_id'], total, total)
        if not queued:
            for why in _task_errors(store, record['sweep_id'])[:3]:
                progress(f'a task failed: {why}')
            failed = slurm.launch_failures(record['jobs'])
            if failed:
                index, node = failed[0]
                progress(f'{len(failed)} task(s) could not start (task {index} on node '
                         f'{node}): is the store {store.root} on storage every node '
                         'mounts at the same path? (REPRO_HOME)')
            return SweepResult(record['sweep_id'], len(won), total)
        time.sleep(look)


def _task_errors(store, sweep_id):
    """The distinct ``repro: error:`` lines of the sweep's Slurm task logs
    (written by the tasks' own repro: a node that cannot see the store, say)."""
    from repro.core import safefs
    job_dir = os.path.join(store.root, 'sweeps', sweep_id, 'slurm')
    errors = []
    try:
        names = sorted(n for n in os.listdir(job_dir) if n.endswith('.out'))
    except OSError:
        return errors
    for name in names:
        try:
            text = safefs.read_text(job_dir, name, 1 << 20)
        except ReproError:
            continue
        for line in text.splitlines():
            if line.startswith('repro: error: ') and line[14:] not in errors:
                errors.append(safefs.printable(line[14:])[:300])
    return errors


def cancel(store, ref, *, connect):
    """Stop a sweep: Slurm jobs are cancelled (each task stops its member and
    records it ``interrupted``); a local sweep's runner gets SIGINT (it does
    the same), and containers a dead runner left are stopped."""
    import signal
    record = read_record(store, ref)
    if record['engine'] == 'slurm':
        from repro.execute import slurm
        slurm.cancel(record['jobs'])
        return record['sweep_id'], f'cancelled job(s) {", ".join(record["jobs"])}'
    if _runner_alive(record.get('runner')):
        os.kill(record['runner']['pid'], signal.SIGINT)
        return record['sweep_id'], 'its runner was told to stop every member'
    engine = connect()
    stopped = [cid for cid in engine.containers({'org.repro.sweep-id': record['sweep_id']})
               if engine.stop_container(cid)]
    return record['sweep_id'], f'no runner was running; {len(stopped)} container(s) stopped'


def _now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')
