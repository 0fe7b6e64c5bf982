"""Everything runs share, done once: the source snapshot, the lock, the image.

``repro run`` is :func:`prepare` then :func:`repro.execute.container.execute`; a sweep
prepares once and executes many :class:`repro.execute.runspec.RunSpec`; a replay
builds its :class:`PreparedRun` from the recorded inputs instead
(:mod:`repro.audit.replay`); ``repro build`` is the image half (:func:`build`).
"""
import dataclasses
import hashlib
from typing import Tuple

from repro.errors import SourceError


@dataclasses.dataclass(frozen=True)
class ProjectInputs:
    """A project's config and fresh lock, read before any engine is touched,
    so a stale lock is reported as such even when the engine is down."""
    root: str
    config: object        # repro.record.config.ImageConfig
    lock_path: str        # relative to root: what the manifest records
    lock_bytes: bytes


@dataclasses.dataclass(frozen=True)
class PreparedRun:
    """The source, lock and image of one or more runs, all checked."""
    tree: str                     # git tree id of the snapshot
    files: tuple                  # its (path, mode, oid) entries
    src: str                      # the exported tree, mounted read-only in the container
    git_record: dict              # the manifest's ``git`` section
    diff: bytes                   # the source diff against HEAD (meta/source.diff)
    lock_path: str
    lock_bytes: bytes
    image_record: dict            # the manifest's ``image`` section, with ``layers``
    warnings: Tuple[str, ...] = ()

    @property
    def image_id(self):
        return self.image_record['id']

    @property
    def lock_sha256(self):
        return hashlib.sha256(self.lock_bytes).hexdigest()

    def lock_record(self):
        """The manifest's ``lock`` section; ``hashed`` says every requirement
        pins its wheels by sha256 (what an audit policy may require)."""
        from repro.errors import LockError
        from repro.images.wheels import parse_lock
        try:
            hashed = bool(parse_lock(self.lock_bytes.decode('utf-8')))
        except (LockError, UnicodeDecodeError):
            hashed = False
        return {'path': self.lock_path, 'sha256': self.lock_sha256, 'hashed': hashed}


def read_inputs(root):
    """The project's :class:`ProjectInputs`; ConfigError or LockError if unusable."""
    from repro.record.config import load_config
    from repro.record.locking import LOCK_NAME, check_lock
    config = load_config(root)
    _path, lock_bytes = check_lock(root)
    return ProjectInputs(root, config, LOCK_NAME, lock_bytes)


def plan(engine, inputs):
    """The image plan (its key; the base image is checked first), no build."""
    from repro.images.image import plan_image
    return plan_image(engine, inputs.config, inputs.lock_path, inputs.lock_bytes)


def build(engine, inputs, progress=print):
    """``repro build``: (plan, image ID, whether it was built rather than reused)."""
    from repro.engines import reaper
    from repro.images.image import ensure_image
    image_plan = plan(engine, inputs)
    image_id, built = ensure_image(engine, image_plan, progress=progress, guard=reaper.guard)
    return image_plan, image_id, built


def prepare(inputs, store, engine, progress=print, launchers=(), scan=None):
    """Snapshot the source, keep what rebuilds the image, get the image.

    ``launchers`` must be in the snapshot; they are checked before the
    image is built, so a missing one costs no build. ``scan``: the source's
    :class:`repro.record.gitsource.BackgroundScan`, if one was started.
    """
    from repro.engines import reaper
    from repro.engines.liveness import runner_record
    from repro.record.gitsource import snapshot_source
    from repro.images.image import ensure_image, keep_inputs
    from repro.record.secretscan import scan_diff
    from repro.store.sourcetree import export_files
    image_plan = plan(engine, inputs)
    progress('snapshotting the source tree ...')
    with store.locked():  # `repro gc` runs before this snapshot or sees its pin
        snapshot = snapshot_source(inputs.root, store, scan)
        warnings = list(getattr(snapshot, 'warnings', ()))
        warnings += [f'possible {kind} in uncommitted {path}:{line}; the source snapshot in '
                     'the run store will contain it'
                     for path, line, kind in scan_diff(snapshot.diff)]
        for warning in warnings:
            progress(f'warning: {warning}')
        _check_launchers(launchers, snapshot.files)
        kept = keep_inputs(store, image_plan)  # what a replay needs to rebuild the image
        store.pin(runner_record(), snapshot.tree, kept, image_plan.key)
    image_id, built = ensure_image(engine, image_plan, progress=progress, guard=reaper.guard)
    progress(f'{"built" if built else "reusing"} image {image_id[:19]} '
             f'(key {image_plan.key[:12]})')
    return PreparedRun(
        tree=snapshot.tree, files=tuple(snapshot.files),
        src=export_files(store, snapshot.tree, snapshot.files),
        git_record=snapshot.git_record(), diff=snapshot.diff, lock_path=inputs.lock_path,
        lock_bytes=inputs.lock_bytes, image_record=image_record(
            engine, image_plan.record(image_id)), warnings=tuple(warnings))


def image_record(engine, record):
    """``record`` with the layers the engine reports for its image (a replay
    names the layer that differs by them)."""
    return {**record, 'layers': list(engine.image_layers(record['id']))}


def _check_launchers(launchers, files):
    paths = {path for path, _mode, _oid in files}
    for launcher in launchers:
        if launcher not in paths:
            raise SourceError(f'{launcher} is not in the source snapshot (ignored by git, '
                              'or a link out of the repository)', 'un-ignore it or move it in')
