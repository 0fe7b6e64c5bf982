"""Run one :class:`RunSpec` of a :class:`PreparedRun` and record its manifest.

The manifest is always readable: ``running`` while the container runs, then
the final status with every artifact hashed, whatever happens in between.
"""
import datetime
import json
import os
import stat

import repro
from repro import contract
from repro.core import safefs
from repro.core._fs import dump_json
from repro.errors import EngineError, EngineLostError, ReproError
from repro.store.manifest import FORMAT, allowed_env, artifacts
from repro.execute.runspec import RunIO, RunResult

MAX_REPORT = 1 << 16  # the runtime's determinism report: a few hundred bytes


def _now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')


def execute(engine, store, spec, prepared, io=RunIO()):
    """Run the container for a new run and record it; a :class:`RunResult`.

    The host writes ``meta/`` (the source diff, the flags it sets) before
    the container starts; the container gets ``/src`` read-only and its
    own ``outputs/`` only. Whatever happens, the manifest is finalized.
    """
    from repro.execute.hostinfo import host_record
    from repro.engines.liveness import runner_record
    from repro.engines.reaper import spawn as spawn_reaper
    earlier = None if spec.resume_from is None else earlier_outputs(store, spec.resume_from)
    host = host_record(engine.version())  # before the run dir: it can take seconds
    run_id = store.create_run(spec.launcher, spec.seed)
    sweep = None if spec.sweep is None else {**spec.sweep, 'attempt': _claim_attempt(
        store, spec.sweep, run_id)}
    run_dir = store.run_dir(run_id)
    for sub in ('outputs', 'logs', 'meta'):
        os.makedirs(os.path.join(run_dir, sub))
    env = contract.container_env(spec.seed, run_id, spec.threads, resume=earlier is not None)
    with open(os.path.join(run_dir, 'meta', 'source.diff'), 'wb') as f:
        f.write(prepared.diff)
    dump_json(os.path.join(run_dir, 'meta', 'determinism.json'),
                {'seed': spec.seed, 'env': allowed_env(env), 'hostname': contract.HOSTNAME})
    manifest = {
        'format': FORMAT, 'run_id': run_id, 'status': 'running', 'start_time': _now(),
        'end_time': None, 'exit_code': None, 'command': spec.command_line(),
        'replay': ['repro', 'replay', run_id], 'replay_of': spec.replay_of,
        'launcher': spec.launcher, 'seed': spec.seed, 'args': list(spec.args),
        'env': allowed_env(env), 'network': bool(spec.network), 'gpus': spec.gpus,
        'hostname': contract.HOSTNAME,
        'git': prepared.git_record, 'lock': prepared.lock_record(),
        'image': dict(prepared.image_record),
        'determinism': {}, 'host': host, 'runner': runner_record(),
        'repro_version': repro.__version__, 'artifacts': [],
    }
    if spec.args_written is not None and list(spec.args_written) != list(spec.args):
        manifest['args_written'] = list(spec.args_written)
    if spec.threads is not None:
        manifest['threads'] = spec.threads
    if sweep is not None:
        manifest['sweep'] = sweep
    if earlier is not None:
        manifest['resumed_from'] = spec.resume_from
    store.write_manifest(run_id, manifest)
    labels = {'org.repro.run-id': run_id}
    if spec.sweep is not None:
        labels['org.repro.sweep-id'] = spec.sweep['id']

    releases = []

    def started(container_id):
        releases.append(spawn_reaper(os.getpid(), container_id, store.root, run_id))
        if io.stop:
            io.stop.started(engine, container_id)

    tee = _Tee(os.path.join(run_dir, 'logs', 'stdout.log'), io.stream)
    status, code = 'failed', None
    try:
        code, _ = engine.run(
            prepared.image_id,
            ['python', '-m', 'repro.runtime', f'{contract.SRC}/{spec.launcher}', *spec.args],
            env=env, user=f'{os.getuid()}:{os.getgid()}', network=spec.network,
            workdir=contract.OUTPUTS, gpus=spec.gpus, on_output=tee,
            hostname=contract.HOSTNAME, labels=labels, on_start=started, cpuset=spec.cpuset,
            mounts=[(prepared.src, contract.SRC, 'ro'),
                    (os.path.join(run_dir, 'outputs'), contract.OUTPUTS, 'rw')]
            + ([(earlier, contract.RESUME, 'ro')] if earlier else []))
        for release in filter(None, releases):  # the container is gone: nothing to reap
            release()
        status = 'succeeded' if code == 0 else 'failed'
        if io.stop and io.stop.is_set:  # stopped by a sweep's Ctrl-C or cancel
            status, code = 'interrupted', 130
    except KeyboardInterrupt:
        status, code = 'interrupted', 130
    except EngineError as exc:  # e.g. --gpus on a host without GPUs, or the engine stopped
        # A run cut short by a lost engine, or stopped under it, did not fail on its own.
        cut_short = isinstance(exc, EngineLostError) or (io.stop and io.stop.is_set)
        status, code = ('interrupted' if cut_short else 'failed'), 125
        manifest['error'] = exc.message
        tee.log_only(f'repro: error: {exc}\n'.encode())
        io.progress(f'repro: error: {exc}')
    finally:
        tee.close()
        manifest.update(status=status, exit_code=code, end_time=_now())
        try:
            _finalize(store, run_id, manifest)
        except BaseException:  # a second Ctrl-C while hashing: never stay 'running'
            manifest.update(status='interrupted', exit_code=130, artifacts=[],
                            error='interrupted while its outputs were recorded')
            store.write_manifest(run_id, manifest)
            raise
    if manifest['status'] != status:  # the outputs could not be recorded
        io.progress(f'repro: error: {manifest["error"]}')
        code = code or 1
    return RunResult(run_id, manifest['status'], code)


def _claim_attempt(store, sweep, run_id):
    """The attempt number of a sweep member's new run, taken in the sweep's
    attempt index before its first manifest (so every attempt with a
    manifest is found there); ``sweep['attempt']`` is the number expected."""
    from repro.store.sweeps import SweepStore
    index = SweepStore(store).attempt_index(sweep['id'])
    return index.claim(sweep['index'], run_id, first=sweep.get('attempt') or 1)


def earlier_outputs(store, run_id):
    """The ``outputs/`` of the run a new one continues, to mount read-only.

    Only checked to be directories, not links (so a forged store cannot
    mount some other directory of this host), and never read here: what an
    earlier container wrote is untrusted, and the library copies what it
    needs inside the new container.
    """
    from repro.errors import RunNotFoundError, UntrustedFileError
    run_dir = store.run_dir(run_id)
    outputs = os.path.join(run_dir, 'outputs')
    for path in (store.runs_dir, run_dir, outputs):
        try:
            mode = os.lstat(path).st_mode
        except FileNotFoundError:
            raise RunNotFoundError(f'run {run_id} to resume from is not in the store') from None
        if not stat.S_ISDIR(mode):
            raise UntrustedFileError(f'cannot resume from run {run_id}: '
                                     f'{safefs.display(path)} is not a directory')
    return outputs


class _Tee:
    """Container output to the terminal and to logs/stdout.log, as it comes."""

    def __init__(self, path, stream):
        self._file = open(path, 'ab')
        self._stream = stream

    def __call__(self, chunk):
        self.log_only(chunk)
        self._stream.write(chunk)
        self._stream.flush()

    def log_only(self, chunk):
        self._file.write(chunk)
        self._file.flush()

    def close(self):
        self._file.close()


def _finalize(store, run_id, manifest):
    """Record artifacts and the runtime's report; a run whose outputs cannot
    be recorded is ``failed`` with the reason, never left ``running``."""
    run_dir = store.run_dir(run_id)
    try:
        changed = safefs.drop_dangerous_modes(os.path.join(run_dir, 'outputs'))
        if changed:
            manifest['modes_dropped'] = changed[:100]
        unreadable = []
        manifest['artifacts'] = artifacts(run_dir, unreadable=unreadable)
        if unreadable:
            manifest['unhashed'] = unreadable
        manifest['determinism'] = runtime_report(os.path.join(run_dir, 'outputs'))
    except Exception as exc:  # noqa: BLE001 - anything: the run must not stay 'running'
        manifest.update(status='failed', artifacts=[],
                        error=f'cannot record the outputs: {safefs.display(_reason(exc))}')
    if manifest.get('unhashed') and manifest['status'] == 'succeeded':
        manifest.update(status='failed', error='cannot read outputs: '
                        + ', '.join(manifest['unhashed'][:3]))
    try:
        store.write_manifest(run_id, manifest)
    except UnicodeEncodeError:  # text that is not Unicode slipped in: never stay 'running'
        manifest.update(status='failed', determinism={}, artifacts=[],
                        error='the run\'s outputs hold text that is not valid Unicode')
        store.write_manifest(run_id, manifest)


def _reason(exc):
    return getattr(exc, 'message', None) or getattr(exc, 'strerror', None) or str(exc)


def runtime_report(outputs):
    """The runtime's report from the outputs, read as untrusted: a small
    JSON object, never through a link; {} when absent or unusable."""
    try:
        report = safefs.read_json(outputs, contract.REPORT, MAX_REPORT)
    except ReproError:
        return {}
    try:  # a lone surrogate (\ud800) parses as JSON but cannot be written out
        json.dumps(report, ensure_ascii=False).encode('utf-8')
    except (UnicodeEncodeError, TypeError, ValueError):
        return {}
    return report if isinstance(report, dict) else {}
