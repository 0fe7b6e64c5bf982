"""The Slurm engine of ``repro sweep``: one job array, one member per task.

The only module that runs Slurm's commands (sbatch, squeue, scancel,
scontrol). The submitting host prepares once and saves the image as an
archive into the store, which every node must see (``REPRO_HOME`` on shared
storage); each array task then runs one member on its node with repro
itself: it loads the archive into the node's engine if the image is not
there (once per node, and only if the loaded ID is the recorded one; a task
never builds), checks the recorded inputs and runs the member as an ordinary
run. ``--requeue`` lets Slurm run a task again after a node loss; every
attempt is its own run, and an attempt supersedes the earlier ones of its
member that still say ``running``.

A task stops its container on SIGTERM (a cancel, a requeue, the time limit)
and on the warning signal (``--signal=B:USR1@N``) before the time limit; on
the warning it also asks Slurm to requeue it, so a long member continues in
a new attempt instead of being killed.
"""
import os
import shlex
import signal
import sys
import threading
import time

from repro.errors import ConfigError, EngineError, ReproError, SlurmError

WARNING = signal.SIGUSR1
DEFAULT_WARN_SECONDS = 300
IMAGES = 'images'           # <store>/images/<id hex>.tar: archives the nodes load


def _run(cmd, what):
    from repro.record.tools import run_tool
    return run_tool(cmd, error=SlurmError, what=what)


def check_available():
    """A one-line error unless ``sbatch`` exists and the controller answers."""
    import shutil
    if not shutil.which('sbatch'):
        raise SlurmError('--engine slurm needs Slurm, and sbatch is not on PATH',
                         'run on a Slurm login node (or scripts/slurm-up for a test cluster)')
    result = _run(['scontrol', 'ping'], 'scontrol ping')
    if 'UP' not in result.stdout:
        raise SlurmError('the Slurm controller is down: ' + result.stdout.strip().splitlines()[0]
                         if result.stdout.strip() else 'the Slurm controller did not answer')


def check_array_size(n):
    """A one-line error, before anything is prepared, if Slurm refuses an
    array of ``n`` tasks (``MaxArraySize``, 1001 by default)."""
    out = _run(['scontrol', 'show', 'config'], 'scontrol show config').stdout
    for line in out.splitlines():
        key, _, value = line.partition('=')
        if key.strip() == 'MaxArraySize' and value.strip().isdigit():
            limit = int(value.strip())
            if n > limit - 1:  # indices run from 0 to MaxArraySize - 1
                raise SlurmError(f'this sweep has {n} members, and this cluster takes job '
                                 f'arrays of at most {limit - 1} tasks (MaxArraySize)',
                                 'split the sweep, or ask for a larger MaxArraySize')


def thread_warning(threads, options):
    """A one-line warning when each member's fixed thread count is more than
    the CPUs its task gets (pure), else None. Not an error: the numbers do
    not change, and reproducing a run made with more threads on a smaller
    allocation is a reason to do it."""
    cpus = options.get('cpus_per_task') or threads
    if threads <= cpus:
        return None
    return (f'each member runs {threads} torch/BLAS threads (--threads) on the {cpus} '
            f'CPU(s) of its task (--cpus-per-task): they share them and run slower (their '
            f'numbers do not change); --cpus-per-task {threads} gives each thread a CPU')


def array_spec(indices, max_parallel=0):
    """``0-5%2`` or ``1,4-5`` for the given task indices (pure)."""
    indices = sorted(indices)
    parts, start = [], None
    for i, index in enumerate(indices):
        if start is None:
            start = index
        if i + 1 == len(indices) or indices[i + 1] != index + 1:
            parts.append(str(start) if start == index else f'{start}-{index}')
            start = None
    return ','.join(parts) + (f'%{max_parallel}' if max_parallel else '')


def batch_script(*, sweep_id, store_root, indices, max_parallel, options, log_dir):
    """The sbatch script of one job array (pure): directives, the user's
    extra lines, then one repro task per array index."""
    warn = options.get('warn_seconds', DEFAULT_WARN_SECONDS)
    python = options.get('python') or sys.executable
    lines = ['#!/bin/bash',
             f'# repro sweep {sweep_id}: one member per array task (generated)',
             f'#SBATCH --job-name=repro-{sweep_id}',
             f'#SBATCH --array={array_spec(indices, max_parallel)}',
             '#SBATCH --requeue',
             '#SBATCH --open-mode=append',
             f'#SBATCH --output={log_dir}/%A_%a.out',
             f'#SBATCH --signal=B:{WARNING.name[3:]}@{warn}']
    for key in ('partition', 'time', 'gres'):
        if options.get(key):
            lines.append(f'#SBATCH --{key}={options[key]}')
    if options.get('cpus_per_task'):
        lines.append(f'#SBATCH --cpus-per-task={options["cpus_per_task"]}')
    lines += list(options.get('extra', ()))
    lines += [f'export REPRO_HOME={shlex.quote(store_root)}',
              f'exec {shlex.quote(python)} -m repro.execute.slurm task {shlex.quote(store_root)} '
              f'{shlex.quote(sweep_id)} "$SLURM_ARRAY_TASK_ID"', '']
    return '\n'.join(lines)


def submit(script_path):
    """``sbatch --parsable``; the job id."""
    out = _run(['sbatch', '--parsable', script_path], 'sbatch').stdout.strip()
    job = out.split(';')[0]
    if not job.isdigit():
        raise SlurmError(f'sbatch answered {out!r}, not a job id')
    return job


def task_states(job_ids):
    """{array index: Slurm state} of the tasks of ``job_ids`` still queued or running."""
    if not job_ids:
        return {}
    out = _run(['squeue', '-h', '-r', '-j', ','.join(job_ids), '-o', '%K %T'],
               'squeue').stdout
    states = {}
    for line in out.splitlines():
        index, _, state = line.strip().partition(' ')
        if index.isdigit():
            states[int(index)] = state
    return states


def launch_failures(job_ids):
    """``(index, node)`` of tasks Slurm could not even start (JobLaunchFailure:
    typically an output file on storage the node cannot see), while Slurm
    still remembers them (MinJobAge)."""
    found = []
    for job in job_ids:
        try:
            out = _run(['scontrol', 'show', 'job', '-o', job], 'scontrol show job').stdout
        except SlurmError:
            continue
        for line in out.splitlines():
            fields = dict(f.split('=', 1) for f in line.split() if '=' in f)
            if fields.get('Reason') == 'JobLaunchFailure':
                found.append((fields.get('ArrayTaskId'), fields.get('NodeList')))
    return found


def cancel(job_ids):
    if job_ids:
        _run(['scancel', *job_ids], 'scancel')


def image_archive(store_root, image_id):
    import re
    if not re.fullmatch(r'sha256:[0-9a-f]{64}', str(image_id)):
        raise EngineError(f'not an image id: {image_id!r}')
    return os.path.join(store_root, IMAGES, image_id.split(':')[-1] + '.tar')


def save_image(engine, store_root, image_id, progress):
    """Keep the image as an archive in the store for the nodes (once)."""
    from repro.core._fs import atomic_writer
    path = image_archive(store_root, image_id)
    if os.path.exists(path):
        return path
    os.makedirs(os.path.dirname(path), exist_ok=True)
    progress(f'saving image {image_id[:19]} into the store for the nodes ...')
    with atomic_writer(path, fsync=True) as f:
        engine.save_image(image_id, f)
    return path


def ensure_image(engine, store_root, image_id, progress):
    """The recorded image in this node's engine: loaded from the store's
    archive if missing (under a node-local lock, so once per node), and used
    only if the loaded ID is the recorded one."""
    import fcntl
    if engine.image_id(image_id) == image_id:
        return False
    lock_path = f'/tmp/repro-load-{os.getuid()}-{image_id.split(":")[-1][:16]}.lock'
    with open(lock_path, 'w') as lock:  # node-local /tmp: flock is safe there
        fcntl.flock(lock, fcntl.LOCK_EX)
        if engine.image_id(image_id) == image_id:
            return False
        path = image_archive(store_root, image_id)
        if not os.path.isfile(path):
            raise EngineError(f'image {image_id[:19]} is not on this node and the store has '
                              f'no archive of it ({path})')
        _check_archive(path, image_id)
        loaded = engine.load(path)
        if image_id not in loaded:
            raise EngineError(f'the stored archive loads as {", ".join(loaded) or "nothing"}, '
                              f'not the recorded image {image_id[:19]}')
        progress(f'loaded image {image_id[:19]} on node {node_name()}')
        return True


def _check_archive(path, image_id):
    """Refuse an archive (store content: untrusted) that would tag images on
    load or holds another image than the recorded one, before loading it."""
    import json
    import tarfile
    try:
        with tarfile.open(path) as tar:
            member = tar.getmember('manifest.json')
            if not member.isfile() or member.size > 1 << 20:
                raise ValueError('manifest.json is not a small file')
            entries = json.load(tar.extractfile(member))
    except (OSError, KeyError, ValueError, tarfile.TarError) as exc:
        raise EngineError(f'the stored image archive {path} is unusable ({exc})') from None
    hex_id = image_id.split(':')[-1]
    if not (isinstance(entries, list) and len(entries) == 1 and isinstance(entries[0], dict)
            and not entries[0].get('RepoTags')
            and os.path.basename(str(entries[0].get('Config'))).split('.')[0] == hex_id):
        raise EngineError(f'the stored image archive {path} is not an untagged archive of '
                          f'image {image_id[:19]}')


def node_name():
    import socket
    return os.environ.get('SLURMD_NODENAME') or socket.gethostname()


def _allocated_gpus():
    """The GPU ids Slurm allocated to this task (``--gres gpu:N``), else all."""
    import re
    for name in ('SLURM_JOB_GPUS', 'SLURM_STEP_GPUS', 'CUDA_VISIBLE_DEVICES'):
        value = os.environ.get(name, '')
        if re.fullmatch(r'[0-9]+(,[0-9]+)*', value):
            return value
    return 'all'


def requeue_self():
    job = os.environ.get('SLURM_ARRAY_JOB_ID')
    index = os.environ.get('SLURM_ARRAY_TASK_ID')
    target = f'{job}_{index}' if job and index else os.environ.get('SLURM_JOB_ID')
    if target:
        _run(['scontrol', 'requeue', target], 'scontrol requeue')


def task(store_root, sweep_ref, index, *, connect, progress):
    """One array task: run member ``index`` of the sweep on this node; the
    exit code (0: the member succeeded, now or before)."""
    from repro.execute import sweep as sweeps
    from repro.execute import sweepruns
    from repro.execute.runspec import RunIO, StopSignal
    from repro.store.runs import RunStore
    entered = time.perf_counter()
    store = RunStore(store_root)
    if not os.path.isdir(store.root):
        raise ConfigError(f'the run store {store.root} is not visible on node {node_name()}',
                          'REPRO_HOME must be on storage every node mounts')
    record = sweepruns.read_record(store, sweep_ref)
    if not 0 <= index < len(record['members']):
        raise ConfigError(f'sweep {record["sweep_id"]} has no member {index}')
    member = record['members'][index]
    attempts = sweepruns.attempts(store, record, [index]).get(index, [])
    if sweepruns.succeeded(attempts):
        progress(f'member {index} has succeeded already')
        return 0
    sweepruns.supersede(store, record, attempts,
                     f'{os.environ.get("SLURM_JOB_ID", "?")} on {node_name()}')
    engine = connect()
    ensure_image(engine, store.root, record['image'], progress)
    prepared = sweeps.recorded_inputs(store, engine, record, record['image'])
    if prepared.image_id != record['prepared']['image']['id']:  # checked by the store too
        raise EngineError('the sweep record names two different images')
    stop, signalled = StopSignal(), []

    def on_signal(signum, _frame):  # stop the container off the signal handler
        signalled.append(signum)
        threading.Thread(target=stop.stop, daemon=True).start()
    for signum in (signal.SIGTERM, WARNING):
        signal.signal(signum, on_signal)
    # What Slurm gave this task: its CPUs, and its GPUs when the sweep uses any.
    cpuset = ','.join(str(c) for c in sorted(os.sched_getaffinity(0)))
    spec = sweeps.member_spec(record, member, cpuset, resume_from=sweeps.resume_source(attempts),
                              node=node_name(), attempt=len(attempts) + 1,
                              job=os.environ.get('SLURM_JOB_ID'),
                              gpus=_allocated_gpus() if record['gpus'] else None)
    started = time.perf_counter()
    result = sweeps.execute_member(engine, store, spec, prepared,
                                   RunIO(sys.stdout.buffer, progress, stop))
    progress(f'member {index}: {result.status} {result.run_id} '
             f'in {time.perf_counter() - started:.2f} s '
             f'(after {started - entered:.2f} s of checks)')
    if WARNING in signalled:
        progress('the time limit is near: asking Slurm to requeue this member')
        requeue_self()
    return 0 if result.status == 'succeeded' else (result.exit_code or 1)


def main(argv=None):
    """``python -m repro.execute.slurm task STORE SWEEP_ID INDEX`` (array tasks)."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 4 or argv[0] != 'task' or not argv[3].isdigit():
        print('usage: python -m repro.execute.slurm task STORE SWEEP_ID INDEX', file=sys.stderr)
        return 2
    from repro.engines.interface import connect_engine

    def progress(message):
        print(f'repro: {message}', file=sys.stderr, flush=True)
    try:
        return task(argv[1], argv[2], int(argv[3]), connect=connect_engine, progress=progress)
    except ReproError as exc:
        progress(f'error: {exc}')
        return exc.exit_code


if __name__ == '__main__':
    # As the `repro` command: fewer collections while docker-py is imported,
    # and no teardown walking its objects (0.1-0.2 s, in which the next array
    # task cannot start); exit handlers still run.
    from repro.__main__ import command
    command(main)
