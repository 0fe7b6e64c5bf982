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
from repro.errors import ConfigError, SourceError
from repro.manifest import FORMAT, allowed_env, artifacts

CONTAINER_SRC = '/src'
CONTAINER_RUN = '/repro/run'
CONTAINER_META = '/repro/meta'


def _now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')


def resolve_launcher(launcher):
    """(project root, launcher path relative to it) or a one-line error."""
    from repro.project import find_project_root
    path = os.path.abspath(launcher)
    if os.path.isdir(path):
        raise SourceError(f'launcher is a directory, not a script: {launcher}')
    if not os.path.isfile(path):
        raise SourceError(f'launcher not found: {launcher}')
    root = find_project_root(os.path.dirname(path))
    return root, os.path.relpath(path, root).replace(os.sep, '/')


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

    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise ConfigError(f'invalid seed {seed!r}: use a non-negative integer')
    root, launcher_rel = resolve_launcher(launcher)
    config = load_config(root)
    _lock_path, lock_bytes = check_lock(root)
    engine = DockerEngine.connect()
    store = RunStore.for_project(root).ensure()
    plan = plan_image(engine, config, LOCK_NAME, lock_bytes)  # base image checked first
    progress('snapshotting the source tree ...')
    snapshot = snapshot_source(root, store)
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
                   gpus=gpus, network=network, src=export_files(store, snapshot.tree, snapshot.files),
                   image_id=image_id, image_record=plan.record(image_id),
                   git_record=snapshot.git_record(), diff=snapshot.diff,
                   lock={'path': LOCK_NAME, 'sha256': hashlib.sha256(lock_bytes).hexdigest()},
                   output=output, progress=progress)


def execute(engine, store, *, launcher_rel, seed, args, gpus, network, src, image_id,
            image_record, git_record, diff, lock, replay_of=None, output=None,
            progress=print):
    """Run the container for a new run and record it; (run id, status, code)."""
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
    env = {'REPRO_SEED': '' if seed is None else str(seed), 'PYTHONHASHSEED': '0',
           'CUBLAS_WORKSPACE_CONFIG': ':4096:8', 'REPRO_DETERMINISTIC': '1',
           'REPRO_RUN_ID': run_id, 'REPRO_META_DIR': CONTAINER_META}
    manifest = {
        'format': FORMAT, 'run_id': run_id, 'status': 'running', 'start_time': _now(),
        'end_time': None, 'exit_code': None,
        'command': command_line(launcher_rel, seed, list(args), gpus, network),
        'replay': ['repro', 'replay', run_id], 'replay_of': replay_of,
        'launcher': launcher_rel, 'seed': seed, 'args': list(args),
        'env': allowed_env(env), 'network': bool(network), 'gpus': gpus,
        'git': git_record, 'lock': lock,
        'image': {**image_record, 'layers': layers},
        'determinism': {}, 'host': host, 'runner': runner_record(),
        'repro_version': repro.__version__, 'artifacts': [],
    }
    store.write_manifest(run_id, manifest)
    with open(os.path.join(run_dir, 'meta', 'source.diff'), 'wb') as f:
        f.write(diff)

    tee = _Tee(os.path.join(run_dir, 'logs', 'stdout.log'), output or sys.stdout.buffer)
    status, code = 'failed', None
    try:
        code, _ = engine.run(
            image_id, ['python', '-m', 'repro.runtime', f'{CONTAINER_SRC}/{launcher_rel}',
                       *args],
            env=env, user=f'{os.getuid()}:{os.getgid()}', network=network,
            workdir=CONTAINER_RUN, gpus=gpus, on_output=tee,
            labels={'org.repro.run-id': run_id},
            on_start=lambda cid: spawn_reaper(os.getpid(), cid, store.root, run_id),
            mounts=[(src, CONTAINER_SRC, 'ro'),
                    (os.path.join(run_dir, 'outputs'), CONTAINER_RUN, 'rw'),
                    (os.path.join(run_dir, 'meta'), CONTAINER_META, 'rw')])
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
        unreadable = []
        manifest.update(status=status, exit_code=code, end_time=_now(),
                        determinism=_read_json(os.path.join(run_dir, 'meta',
                                                            'determinism.json')),
                        artifacts=artifacts(run_dir, unreadable=unreadable))
        if unreadable:
            manifest['unhashed'] = unreadable
        store.write_manifest(run_id, manifest)
    return run_id, status, code


def _read_json(path):
    try:
        with open(path, encoding='utf-8') as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}
