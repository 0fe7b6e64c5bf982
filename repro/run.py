"""``repro run``: snapshot, lock, image, run in a container, manifest.

One function per step; :func:`run` strings them together and always leaves
a readable manifest: ``running`` while the container runs, then the final
status with every artifact hashed.
"""
import datetime
import hashlib
import json
import os
import sys

import repro
from repro import contract, safefs
from repro.errors import ConfigError, ReproError, SourceError
from repro.manifest import FORMAT, allowed_env, artifacts

MAX_REPORT = 1 << 16  # the runtime's determinism report: a few hundred bytes


def _now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')


def resolve_launcher(launcher):
    """(project root, launcher path relative to it) or a one-line error."""
    from repro.project import find_project_root
    shown = safefs.display(launcher)
    if not safefs.is_utf8(launcher):
        raise SourceError(f'launcher name is not UTF-8 text: {shown}', 'rename it')
    path = os.path.abspath(launcher)
    if os.path.isdir(path):
        raise SourceError(f'launcher is a directory, not a script: {shown}')
    if not os.path.isfile(path):
        raise SourceError(f'launcher not found: {shown}')
    root = find_project_root(os.path.dirname(path))
    # The container sees the snapshot, not links out of it: refuse up front.
    real_root = os.path.realpath(root)
    if os.path.commonpath([real_root, os.path.realpath(path)]) != real_root:
        raise SourceError(f'launcher {shown} is outside the repository {safefs.display(root)} '
                          '(through a link)', 'copy the script into the repository')
    return root, os.path.relpath(path, root).replace(os.sep, '/')


def check_inputs(seed, args):
    """Seed and arguments a manifest can record faithfully, or a usage error."""
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)
                             or not 0 <= seed <= contract.MAX_SEED):
        raise ConfigError(f'invalid seed {seed!r}: use an integer from 0 to '
                          f'{contract.MAX_SEED} (2**32 - 1)')
    for arg in args:
        if not safefs.is_utf8(arg) or '\0' in arg:
            raise ConfigError(f'argument {safefs.display(arg)} is not UTF-8 text')


def command_line(launcher_rel, seed, args, gpus, network):
    cmd = ['repro', 'run', launcher_rel]
    if seed is not None:
        cmd += ['--seed', str(seed)]
    if gpus:
        cmd += ['--gpus', gpus]
    if network:
        cmd.append('--network')
    return cmd + (['--', *args] if args else [])


class _Tee:
    """Container output to the terminal and to logs/stdout.log, as it comes."""

    def __init__(self, path, stream):
        self._file = open(path, 'ab')
        self._stream = stream

    def __call__(self, chunk):
        self._file.write(chunk)
        self._file.flush()
        self._stream.write(chunk)
        self._stream.flush()

    def log_only(self, chunk):
        self._file.write(chunk)
        self._file.flush()

    def close(self):
        self._file.close()


def run(launcher, seed=0, args=(), gpus=None, network=False, progress=print,
        output=None):
    """Run ``launcher`` in its image; returns (run id, status, exit code)."""
    from repro.config import load_config
    from repro.engine import DockerEngine
    from repro.gitsource import snapshot_source
    from repro.image import ensure_image, plan_image
    from repro.locking import LOCK_NAME, check_lock
    from repro.sourcetree import export_files
    from repro.store import RunStore

    from repro.launchargs import expand_seed, seed_conflicts
    check_inputs(seed, list(args))
    root, launcher_rel = resolve_launcher(launcher)
    written = list(args)
    args = expand_seed(written, seed) if seed is not None else written
    for warning in seed_conflicts(written, seed) if seed is not None else ():
        progress(f'warning: {warning}')
    config = load_config(root)
    _lock_path, lock_bytes = check_lock(root)
    engine = DockerEngine.connect()
    store = RunStore.for_project(root).ensure()
    plan = plan_image(engine, config, LOCK_NAME, lock_bytes)  # base image checked first
    progress('snapshotting the source tree ...')
    snapshot = snapshot_source(root, store)
    for warning in getattr(snapshot, 'warnings', ()):
        progress(f'warning: {warning}')
    from repro.secretscan import scan_diff
    for path, line, kind in scan_diff(snapshot.diff):
        progress(f'warning: possible {kind} in uncommitted {path}:{line}; the source '
                 'snapshot in the run store will contain it')
    if launcher_rel not in {path for path, _mode, _oid in snapshot.files}:
        raise SourceError(f'{launcher_rel} is not in the source snapshot (ignored by git, or '
                          'a link out of the repository)', 'un-ignore it or move it in')
    # What a replay needs to rebuild the image, kept by content.
    store.put_object(hashlib.sha256(lock_bytes).hexdigest(), lock_bytes)
    store.put_object(plan.dockerfile_sha256, plan.dockerfile.encode())
    image_id, built = ensure_image(engine, plan, progress=progress)
    progress(f'{"built" if built else "reusing"} image {image_id[:19]} (key {plan.key[:12]})')
    return execute(engine, store, launcher_rel=launcher_rel, seed=seed, args=list(args),
                   args_written=written,
                   gpus=gpus, network=network, src=export_files(store, snapshot.tree, snapshot.files),
                   image_id=image_id, image_record=plan.record(image_id),
                   git_record=snapshot.git_record(), diff=snapshot.diff,
                   lock={'path': LOCK_NAME, 'sha256': hashlib.sha256(lock_bytes).hexdigest()},
                   output=output, progress=progress)


def execute(engine, store, *, launcher_rel, seed, args, gpus, network, src, image_id,
            image_record, git_record, diff, lock, replay_of=None, output=None,
            progress=print, args_written=None):
    """Run the container for a new run and record it; (run id, status, code).

    ``args`` are what the script gets; ``args_written`` what the user wrote
    (with ``{seed}`` unexpanded), recorded when they differ.

    The host writes ``meta/`` (the source diff, the flags it sets) before
    the container starts; the container gets ``/src`` read-only and its
    own ``outputs/`` only. Whatever happens, the manifest is finalized.
    """
    from repro.errors import EngineError, EngineLostError
    from repro.hostinfo import host_record
    from repro.liveness import runner_record
    from repro.reaper import spawn as spawn_reaper
    host = host_record(engine.version())  # before the run dir: it can take seconds
    layers = engine.image_layers(image_id)
    run_id = store.create_run(launcher_rel, seed)
    run_dir = store.run_dir(run_id)
    for sub in ('outputs', 'logs', 'meta'):
        os.makedirs(os.path.join(run_dir, sub))
    env = contract.container_env(seed, run_id)
    with open(os.path.join(run_dir, 'meta', 'source.diff'), 'wb') as f:
        f.write(diff)
    _write_json(os.path.join(run_dir, 'meta', 'determinism.json'),
                {'seed': seed, 'env': allowed_env(env), 'hostname': contract.HOSTNAME})
    manifest = {
        'format': FORMAT, 'run_id': run_id, 'status': 'running', 'start_time': _now(),
        'end_time': None, 'exit_code': None,
        'command': command_line(launcher_rel, seed, list(args_written or args), gpus, network),
        'replay': ['repro', 'replay', run_id], 'replay_of': replay_of,
        'launcher': launcher_rel, 'seed': seed, 'args': list(args),
        'env': allowed_env(env), 'network': bool(network), 'gpus': gpus,
        'hostname': contract.HOSTNAME,
        'git': git_record, 'lock': lock,
        'image': {**image_record, 'layers': layers},
        'determinism': {}, 'host': host, 'runner': runner_record(),
        'repro_version': repro.__version__, 'artifacts': [],
    }
    if args_written is not None and list(args_written) != list(args):
        manifest['args_written'] = list(args_written)
    store.write_manifest(run_id, manifest)

    tee = _Tee(os.path.join(run_dir, 'logs', 'stdout.log'), output or sys.stdout.buffer)
    status, code = 'failed', None
    try:
        code, _ = engine.run(
            image_id, ['python', '-m', 'repro.runtime', f'{contract.SRC}/{launcher_rel}',
                       *args],
            env=env, user=f'{os.getuid()}:{os.getgid()}', network=network,
            workdir=contract.OUTPUTS, gpus=gpus, on_output=tee, hostname=contract.HOSTNAME,
            labels={'org.repro.run-id': run_id},
            on_start=lambda cid: spawn_reaper(os.getpid(), cid, store.root, run_id),
            mounts=[(src, contract.SRC, 'ro'),
                    (os.path.join(run_dir, 'outputs'), contract.OUTPUTS, 'rw')])
        status = 'succeeded' if code == 0 else 'failed'
    except KeyboardInterrupt:
        status, code = 'interrupted', 130
    except EngineError as exc:  # e.g. --gpus on a host without GPUs, or dockerd stopped
        # A run cut short by a lost engine did not fail on its own: interrupted.
        status, code = ('interrupted' if isinstance(exc, EngineLostError) else 'failed'), 125
        manifest['error'] = exc.message
        tee.log_only(f'repro: error: {exc}\n'.encode())
        progress(f'repro: error: {exc}')
    finally:
        tee.close()
        manifest.update(status=status, exit_code=code, end_time=_now())
        _finalize(store, run_id, manifest)
    if manifest['status'] != status:  # the outputs could not be recorded
        progress(f'repro: error: {manifest["error"]}')
        code = code or 1
    return run_id, manifest['status'], code


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


def _write_json(path, data):
    with open(path, 'w', encoding='utf-8') as f:
        f.write(json.dumps(data, indent=2, sort_keys=True) + '\n')
