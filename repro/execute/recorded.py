"""A recorded run's inputs, checked, as the :class:`repro.execute.prepare.PreparedRun`
and :class:`repro.execute.runspec.RunSpec` that a replay executes.

Everything here comes from the run store, which repro does not trust: each
source blob, the tree, the lock and the Dockerfile are checked against the
manifest, and the image is used only if repro recorded it for the key or
the recorded inputs rebuild to exactly its ID.
"""
import hashlib

from repro.errors import ReplayError, StoreError

LAYER_NAMES = ('base', 'venv', 'repro')


def check_inputs(store, manifest, blobs=True):
    """Source files, lock and Dockerfile as recorded; ReplayError naming the
    file. ``blobs=False`` leaves the source blobs to the export, which checks
    each one it reads (:func:`repro.store.sourcetree.export_files`)."""
    from repro.core.safefs import display
    tree = manifest['git']['tree']
    try:
        files = store.get_tree(tree)  # checked against the tree id and the path rules
    except StoreError as exc:
        raise ReplayError(f'cannot replay run {manifest["run_id"]}: {exc.message}') from None
    for path, mode, oid in files if blobs else ():
        if mode == '160000':
            continue
        try:
            for _chunk in store.object_chunks(oid):  # checked against its id as read
                pass
        except FileNotFoundError:
            raise ReplayError(f'source file {display(path)} is missing from the store') \
                from None
        except StoreError:
            raise ReplayError(f'source file {display(path)} in the store does not match '
                              'its hash', 'it was dropped; snapshot again to store it anew') \
                from None
    lock = _object(store, manifest['lock']['sha256'], manifest['lock']['path'])
    dockerfile = _object(store, manifest['image']['dockerfile_sha256'], 'Dockerfile')
    try:
        lock.decode('utf-8')
        return files, lock, dockerfile.decode('utf-8')
    except UnicodeDecodeError:
        raise ReplayError(f'the lock or Dockerfile of run {manifest["run_id"]} in the store '
                          'is not UTF-8 text') from None


def _object(store, sha, name):
    try:
        data = store.read_object(sha)
    except (FileNotFoundError, StoreError):
        raise ReplayError(f'{name} of the run is missing from the store') from None
    if hashlib.sha256(data).hexdigest() != sha:
        raise ReplayError(f'{name} in the store does not match the manifest')
    return data


def ensure_recorded_image(engine, store, manifest, lock, dockerfile, progress):
    """The recorded image ID, rebuilt from the recorded inputs in ``store``
    (the runtime closure included) if it was deleted."""
    from repro.engines import reaper
    from repro.images.image import ensure_image, rebuild_plan, recorded_image
    image = manifest['image']
    if not image['id']:
        raise ReplayError(f'run {manifest["run_id"]} records no image ID, so no image can be '
                          'proved to be its own')
    # Reused only if repro itself made that ID for that key: a forged
    # manifest cannot point the replay at some other image on this host.
    if image['id'] and recorded_image(engine, image['key']) == image['id']:
        return image['id']
    progress(f'image {str(image["id"])[:19]} is not one repro recorded for key '
             f'{image["key"][:12]}; rebuilding it from the recorded inputs')
    if engine.image_id(image['base_digest']) is None:
        raise ReplayError(f'cannot rebuild: base image {image["base_digest"][:19]} is missing',
                          f'run `repro base` (it rebuilds {image["base"]} to the same digest)')
    plan = rebuild_plan(store, manifest, lock, dockerfile)
    rebuilt, _ = ensure_image(engine, plan, progress=progress, guard=reaper.guard)
    if rebuilt != image['id']:  # never run an image the manifest does not name
        recorded = image.get('layers') or []
        now = engine.image_layers(rebuilt)
        differing = [i for i in range(max(len(recorded), len(now)))
                     if recorded[i:i + 1] != now[i:i + 1]]
        names = ', '.join(LAYER_NAMES[min(i, 2)] if len(now) == 3 else f'layer {i}'
                          for i in differing) or 'the config'
        raise ReplayError(f'rebuilt image {rebuilt[:19]} is not the recorded '
                          f'{image["id"][:19]}; differing: {names}')
    return rebuilt


def recorded_run(store, engine, manifest, files, lock, image_id, diff=None):
    """The :class:`repro.execute.prepare.PreparedRun` of the checked recorded
    inputs; ``diff`` defaults to the recorded run's ``meta/source.diff``."""
    from repro.core import safefs
    from repro.execute.prepare import PreparedRun, image_record
    from repro.store.sourcetree import export_files
    tree = manifest['git']['tree']
    record = {k: v for k, v in manifest['image'].items() if k != 'layers'}
    return PreparedRun(
        tree=tree, files=tuple(files), src=export_files(store, tree, files),
        git_record=manifest['git'],
        diff=diff if diff is not None else safefs.read_bytes(
            store.run_dir(manifest['run_id']), 'meta/source.diff', 1 << 30),
        lock_path=manifest['lock']['path'], lock_bytes=lock,
        image_record=image_record(engine, {**record, 'id': image_id}))


def recorded_spec(manifest, network):
    """The recorded run's seed, arguments and flags; networking only if
    the user allows it too."""
    from repro.execute.runspec import RunSpec
    written = manifest.get('args_written')
    return RunSpec(launcher=manifest['launcher'], seed=manifest['seed'],
                   args=tuple(manifest['args']),
                   args_written=None if written is None else tuple(written),
                   gpus=manifest.get('gpus'),
                   network=bool(manifest.get('network')) and network,
                   replay_of=manifest['run_id'], threads=manifest.get('threads'),
                   resume_from=manifest.get('resumed_from'))
