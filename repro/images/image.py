"""Build or reuse the run image: content-keyed, offline, bit-reproducible.

The key is the sha256 of the base digest, the lock, the rendered Dockerfile
and repro's runtime closure (:mod:`repro.images.closure`; the plan is
:mod:`repro.images.imageplan`). An image is reused only by identity: repro records
key -> image ID in its cache when it builds or loads an image, and reuses
the image with that ID (a label proves nothing: an image built ``FROM``
ours inherits it). Otherwise:
wheels come from the content-addressed wheelhouse; the venv is installed in
a container of the base image with networking off and SOURCE_DATE_EPOCH=0
(hash-based bytecode); its files, and the closure's, become normalised layers over
the base image's layers, with a config whose timestamps are fixed, loaded
into the engine. Equal inputs give an equal image ID on any engine.
"""
import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import tarfile
import tempfile
import threading

from repro.images import closure as rc
from repro.images import dockerfile as df
from repro.images import oci
from repro.core._fs import atomic_writer
from repro.errors import BuildError, EngineError
from repro.images.imageplan import (ImagePlan, base_digest, keep_inputs,  # noqa: F401 (the API)
                             plan_image, rebuild_plan)
from repro.images.wheels import Wheelhouse, default_cache, link_wheelhouse

LABEL_KEY = 'org.repro.key'
SWEEP_AFTER = 5  # seconds; see _sweep_dead_builds
LABEL_BUILD = 'org.repro.build-key'  # on the container that installs the venv
VENV = '/opt/venv'


@contextlib.contextmanager
def _build_lock(cache, key):
    """One build per key at a time, across processes (``flock``)."""
    os.makedirs(os.path.join(cache, 'locks'), exist_ok=True)
    with open(os.path.join(cache, 'locks', f'{key}.lock'), 'w') as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _record_path(cache, key):
    return os.path.join(cache, 'images', key)


def recorded_image(engine, key, cache=None):
    """The image ID repro recorded for ``key``, if the engine holds that image.
    The record's time is set to now: ``repro gc --keep-images`` keeps the
    images used last."""
    path = _record_path(cache or default_cache(), key)
    try:
        with open(path, encoding='ascii') as f:
            image_id = f.read().strip()
    except (OSError, UnicodeDecodeError):
        return None
    if not image_id or engine.image_id(image_id) != image_id:
        return None
    with contextlib.suppress(OSError):
        os.utime(path)
    return image_id


def record_image(key, image_id, cache=None):
    """Remember that repro made ``image_id`` for ``key``."""
    path = _record_path(cache or default_cache(), key)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with atomic_writer(path, 'w', fsync=False) as f:
        f.write(image_id + '\n')


def ensure_image(engine, plan, cache=None, progress=print, guard=None):
    """The image ID for ``plan``: the recorded one if the engine has it, else built.

    ``guard(container_id)`` is called when the build container starts (the
    caller's reaper: a killed repro leaves no build container running)."""
    cache = cache or default_cache()
    found = recorded_image(engine, plan.key, cache)
    if found:
        return found, False
    with _build_lock(cache, plan.key):
        found = recorded_image(engine, plan.key, cache)  # built while we waited
        if found:
            return found, False
        image_id = _build(engine, plan, cache, progress, guard)
        record_image(plan.key, image_id, cache)
        return image_id, True


def _base(engine, plan):
    """The base image's diff ids and history lines, from the engine.

    The engine holds the base (it was checked when the plan was made), so
    its layers are never copied for a build: they are listed in the archive
    and not sent. Only an engine that wants them after all gets them
    (:func:`_saved_base`)."""
    history = [h.get('CreatedBy') or '' for h in reversed(engine.image_history(plan.base_digest))]
    return list(engine.image_layers(plan.base_digest)), history


def _saved_base(engine, plan, tmp):
    """The base image's layer tars, saved from the engine into ``tmp``."""
    saved = os.path.join(tmp, 'base.tar')
    with open(saved, 'wb') as f:
        engine.save_image(plan.base_digest, f)
    with tarfile.open(saved) as tar:
        tar.extractall(os.path.join(tmp, 'base'), filter='data')
    os.unlink(saved)
    with open(os.path.join(tmp, 'base', 'manifest.json')) as f:
        return [os.path.join(tmp, 'base', p) for p in json.load(f)[0]['Layers']]


class _Venv:
    """The venv layer for (base, lock). Its diff id is remembered in the
    cache by that pair, so a build whose engine holds the layer already (an
    image of another closure with the same lock) installs nothing; else the
    venv is installed into the build folder and streamed into the engine."""

    def __init__(self, engine, plan, cache, tmp, progress, guard):
        self.engine, self.plan, self.cache, self.tmp = engine, plan, cache, tmp
        self.progress, self.guard = progress, guard
        key = hashlib.sha256(f'{plan.base_digest}\0{plan.python}\0'.encode()
                             + plan.lock_bytes).hexdigest()
        self.diff_file = os.path.join(cache, 'layers', f'venv-{key}.diffid')
        try:
            with open(self.diff_file) as f:
                self.diff_id = f.read().strip() or None
        except OSError:
            self.diff_id = None

    def layer(self):
        """The venv as a streamed layer, installed now."""
        root = os.path.join(self.tmp, 'venv-root')
        if not os.path.isdir(root):
            _install_venv(self.engine, self.plan, self.cache, self.tmp, root, self.progress,
                          self.guard)
        return oci.TreeLayer(root)

    def remember(self, diff_id):
        self.diff_id = diff_id
        os.makedirs(os.path.dirname(self.diff_file), exist_ok=True)
        with atomic_writer(self.diff_file, 'w', fsync=False) as f:  # never a half-written id
            f.write(diff_id + '\n')


def _install_venv(engine, plan, cache, tmp, root, progress, guard):
    """Install the locked wheels into ``root``/opt/venv, in a container of
    the base image with networking off.

    The container creates the venv (seconds: ensurepip installs pip) while
    the host downloads the wheels it lacks; it installs them once the host
    says they are all there (``ready``), or stops if the download failed.
    """
    house, signal = os.path.join(tmp, 'wheelhouse'), os.path.join(tmp, 'signal')
    os.makedirs(house)
    os.makedirs(signal)
    lock_path = os.path.join(tmp, 'requirements.lock')
    with open(lock_path, 'wb') as f:
        f.write(plan.lock_bytes)
    failed = []

    def fetch():
        try:
            wheels, _downloaded = Wheelhouse(cache).ensure(plan.lock_bytes.decode(), progress)
            link_wheelhouse(wheels, house)
            open(os.path.join(signal, 'ready'), 'w').close()
        except BaseException as exc:  # noqa: BLE001 - raised below, after the container
            failed.append(exc)
            open(os.path.join(signal, 'failed'), 'w').close()
    fetcher = threading.Thread(target=fetch, daemon=True)
    fetcher.start()
    py = f'python{plan.python}'
    script = (f'set -e; {py} -m venv {VENV}; '
              'until [ -e /tmp/signal/ready ]; do '
              '[ -e /tmp/signal/failed ] && exit 3; sleep 0.05; done; '
              f'{VENV}/bin/pip install --no-index --find-links /tmp/wheels --require-hashes '
              f'--no-deps --disable-pip-version-check -r /tmp/requirements.lock')
    progress(f'installing the locked wheels into {VENV} (network off) ...')
    tail = []

    def collect(chunk):
        lines = chunk.decode('utf-8', 'replace').splitlines()
        for line in lines:
            if line.strip():
                progress(f'  | {line}')
        tail.extend(lines)
        del tail[:-20]
    # The venv is written straight into a host directory mounted at /opt/venv
    # (no copy out of the container), by the invoking user, so the files
    # are theirs to clean up; the layer makes them root-owned anyway.
    venv_dir = os.path.join(root, VENV.lstrip('/'))
    os.makedirs(venv_dir, mode=0o755)
    os.chmod(os.path.dirname(venv_dir), 0o755)
    try:
        code, _ = engine.run(
            plan.base_digest, ['sh', '-c', script], user=f'{os.getuid()}:{os.getgid()}',
            env={'SOURCE_DATE_EPOCH': '0', 'PYTHONHASHSEED': '0', 'PIP_NO_CACHE_DIR': '1',
                 'HOME': '/tmp'},
            mounts=[(house, '/tmp/wheels', 'ro'), (signal, '/tmp/signal', 'ro'),
                    (lock_path, '/tmp/requirements.lock', 'ro'), (venv_dir, VENV, 'rw')],
            on_output=collect, labels={LABEL_BUILD: plan.key},
            on_start=guard)
    except BaseException:
        open(os.path.join(signal, 'failed'), 'w').close()  # the fetcher's work is moot
        raise
    fetcher.join()
    if failed:
        shutil.rmtree(root, ignore_errors=True)
        raise failed[0]
    if code != 0:
        shutil.rmtree(root, ignore_errors=True)
        last = next((ln for ln in reversed(tail) if ln.strip()), 'no output')
        raise BuildError(f'image build failed in step "pip install -r {plan.lock_name}": {last}')


def _repro_root(plan, tmp):
    """repro's runtime closure inside the venv's site-packages (a folder)."""
    root = os.path.join(tmp, 'repro-root')
    site = os.path.join(root, VENV.lstrip('/'), 'lib', f'python{plan.python}',
                        'site-packages', 'repro')
    for rel, data in rc.layer_files(plan.closure):
        path = os.path.join(site, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, 'wb') as f:
            f.write(data)
    # Parent directories exist in the venv layer already; list only repro/.
    return root


def dead_builds(cache, min_age=SWEEP_AFTER):
    """Work folders of builds whose process was killed outright.

    A SIGKILLed build cannot clean up its folder (which may hold a
    gigabyte of venv). Each build holds an flock on ``.lock`` inside its
    folder while it works; a folder whose lock can be taken has no live
    owner on any host sharing the cache.
    """
    import time
    found = []
    for name in sorted(os.listdir(cache)) if os.path.isdir(cache) else ():
        path = os.path.join(cache, name)
        if not name.startswith('repro-build-'):
            continue
        try:
            if time.time() - os.stat(path).st_mtime < min_age:
                continue  # may be a build between creating and locking .lock
            fd = os.open(os.path.join(path, '.lock'), os.O_RDWR)
        except OSError:
            continue  # no lock file (yet): leave it alone
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            found.append(path)
        except OSError:
            pass  # a live build
        finally:
            os.close(fd)
    return found


def _sweep_dead_builds(cache):
    for path in dead_builds(cache):
        shutil.rmtree(path, ignore_errors=True)


def _build(engine, plan, cache, progress, guard):
    _sweep_dead_builds(cache)
    with tempfile.TemporaryDirectory(prefix='repro-build-', dir=cache) as tmp, \
            open(os.path.join(tmp, '.lock'), 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # "this build is alive" (see _sweep_dead_builds)
        progress(f'building image {plan.tag} (key {plan.key[:16]})')
        base_diffs, history = _base(engine, plan)
        venv = _Venv(engine, plan, cache, tmp, progress, guard)
        repro_layer = oci.TreeLayer(_repro_root(plan, tmp))
        # Layer chains the engine already holds are listed, not sent: the
        # base's (the base image is there) and a venv it holds already (an
        # image of the same packages). A venv installed now is hashed first:
        # a read of the files costs far less than the engine unpacking them.
        chains = engine.layer_chains(LABEL_KEY)
        venv_layer = None
        if venv.diff_id is None or (*base_diffs, venv.diff_id) not in chains:
            venv_layer = venv.layer()
            venv.remember(venv_layer.digest())
            if (*base_diffs, venv.diff_id) in chains:
                venv_layer = None
        layers = [None] * len(base_diffs) + [venv_layer, repro_layer]
        labels = {LABEL_KEY: plan.key, 'org.repro.lock-sha256':
                  hashlib.sha256(plan.lock_bytes).hexdigest(),
                  'org.repro.base-digest': plan.base_digest,
                  'org.repro.dockerfile-sha256': plan.dockerfile_sha256}
        env, workdir = df.image_settings(plan.dockerfile)  # the Dockerfile is the spec

        def config(diff_ids):
            diffs = [*base_diffs, diff_ids[-2] or venv.diff_id, diff_ids[-1]]
            return oci.image_config(
                diffs, env=env, cmd=['python3'], workdir=workdir, labels=labels,
                history=history + [f'venv from {plan.lock_name}', 'repro package'])
        progress(f'loading the image ({sum(layer is not None for layer in layers)} of '
                 f'{len(layers)} layers sent; the engine holds the rest) ...')
        try:
            image_id = engine.load_image(
                lambda out: oci.docker_archive(config, layers, plan.tag, out))
        except EngineError:
            # An engine that wants every layer (or lost one meanwhile).
            progress('loading the image again, with every layer ...')
            layers = [*_saved_base(engine, plan, tmp), venv.layer(), repro_layer]
            image_id = engine.load_image(
                lambda out: oci.docker_archive(config, layers, plan.tag, out))
        return image_id


def remove_cached_layers(cache=None):
    """Forget cached base and venv layers (to prove a rebuild from scratch)."""
    shutil.rmtree(os.path.join(cache or default_cache(), 'layers'), ignore_errors=True)
