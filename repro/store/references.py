"""What the run store's kept runs, sweeps and starting runs reference.

``repro gc`` deletes what nothing here names, so this is the one place that
knows what a run needs: its source tree listing and every blob in it, the
lock, the Dockerfile and the runtime closure (listing and files) by
content, and its image. A sweep record names the same for its snapshot,
plus its source diff and the image archive of a Slurm sweep.

A run that is starting has stored its snapshot but written no manifest
yet. It *pins* what it will reference (``pins/<name>.json``), under the
store lock that gc takes exclusively, so gc either runs before the
snapshot (which then stores what it needs again) or sees the pin. A pin
lives until the run's first manifest is written or its process ends.
"""
import atexit
import contextlib
import dataclasses
import json
import os
import secrets

from repro.core import safefs
from repro.core._fs import atomic_writer
from repro.errors import ReproError

PINS = 'pins'
MAX_PIN = 1 << 20


@dataclasses.dataclass
class References:
    """Everything kept, by kind. ``problems`` name runs or records whose
    references cannot be read: while there are any, nothing they could
    reference (sources, objects, images) may be collected."""
    trees: set = dataclasses.field(default_factory=set)
    blobs: set = dataclasses.field(default_factory=set)      # git blob ids
    objects: set = dataclasses.field(default_factory=set)    # sha256 objects
    images: set = dataclasses.field(default_factory=set)     # image IDs
    keys: set = dataclasses.field(default_factory=set)       # image keys
    archives: set = dataclasses.field(default_factory=set)   # image IDs sweeps keep archives of
    users: dict = dataclasses.field(default_factory=dict)    # image ID -> [run ids]
    runs: int = 0
    stale_pins: list = dataclasses.field(default_factory=list)  # of processes that ended
    problems: list = dataclasses.field(default_factory=list)


def write_pin(store, runner, tree, objects, image_key):
    """Pin what a starting run will reference; the pin's path (removed at exit)."""
    folder = store.subdir(PINS, create=True)
    path = os.path.join(folder, f'{runner.get("pid")}-{secrets.token_hex(4)}.json')
    with atomic_writer(path, 'w', fsync=False) as f:
        json.dump({'format': 1, 'runner': runner, 'tree': tree, 'objects': sorted(objects),
                   'image_key': image_key}, f)
    atexit.register(drop_pin, path)
    return path


def drop_pin(path):
    with contextlib.suppress(OSError):
        os.unlink(path)


def pins(store):
    """[(file name, pin)] of the store's pins; an unreadable one is (name, None)."""
    folder = store.subdir(PINS)
    try:
        names = sorted(n for n in os.listdir(folder) if n.endswith('.json')
                       and not n.startswith('.'))
    except OSError:
        return []
    found = []
    for name in names:
        try:
            pin = safefs.read_json(folder, name, MAX_PIN)
        except ReproError:
            pin = None
        found.append((name, pin if isinstance(pin, dict) else None))
    return found


def kept_references(store, is_live):
    """The :class:`References` of every run, sweep record and live pin.

    ``is_live(runner)`` says whether a pin's process may still run (a pin
    of a process that provably ended is ignored: gc removes it).
    """
    from repro.store.manifest_loader import read
    refs = References()
    # Pins first. A starting run writes its first manifest and then drops its pin
    # without the lock, so listing the runs first could miss both; read in this order,
    # a pin gone since was replaced by a manifest the listing below finds.
    for name, pin in pins(store):
        if pin is None:
            refs.problems.append(f'pin {safefs.display(name)} is unreadable')
        elif is_live(pin.get('runner')):
            _add(store, refs, f'starting run ({safefs.display(name)})', pin.get('tree'),
                 pin.get('objects') or [], None, None, pin.get('image_key'))
        else:
            refs.stale_pins.append(os.path.join(store.root, PINS, name))
    for run_id in store.run_ids():
        if not os.path.lexists(store.manifest_path(run_id)):
            continue  # starting (its pin holds what it needs) or never started
        manifest, problems = read(store, run_id)
        if manifest is None:  # an edited one still names what it needs
            refs.problems.append(f'run {run_id}: {problems[0]}')
            continue
        refs.runs += 1
        image = manifest.get('image') or {}
        refs.users.setdefault(image.get('id'), []).append(run_id)
        _add(store, refs, f'run {run_id}', (manifest.get('git') or {}).get('tree'),
             [(manifest.get('lock') or {}).get('sha256'), image.get('dockerfile_sha256')],
             image.get('closure'), image.get('id'), image.get('key'))
    for sweep_id, record in _sweeps(store, refs):
        prepared = record.get('prepared') if isinstance(record.get('prepared'), dict) else {}
        image = prepared.get('image') if isinstance(prepared.get('image'), dict) else {}
        lock = prepared.get('lock') if isinstance(prepared.get('lock'), dict) else {}
        _add(store, refs, f'sweep {sweep_id}', prepared.get('tree'),
             [lock.get('sha256'), image.get('dockerfile_sha256'), prepared.get('diff_sha256')],
             image.get('closure'), record.get('image'), image.get('key'))
        if isinstance(record.get('image'), str):
            refs.archives.add(record['image'])
    return refs


def _sweeps(store, refs):
    from repro.store.sweeps import SweepStore
    sweeps = SweepStore(store)
    for sweep_id in sweeps.ids():
        try:
            yield sweep_id, sweeps.read(sweep_id)
        except ReproError as exc:
            refs.problems.append(f'sweep {sweep_id}: {exc.message}')


def _add(store, refs, who, tree, objects, closure, image_id, key):
    """Add one run's (or record's) references; a problem if its tree or
    closure listing cannot be read (then its blobs are unknown)."""
    refs.objects.update(o for o in objects if isinstance(o, str))
    if isinstance(image_id, str):
        refs.images.add(image_id)
    if isinstance(key, str):
        refs.keys.add(key)
    try:  # a tree or closure read once however many runs share it
        if tree is not None and tree not in refs.trees:
            refs.blobs.update(oid for _path, mode, oid in store.get_tree(tree)
                              if mode != '160000')
            refs.trees.add(tree)
        if isinstance(closure, str) and closure not in refs.objects:
            listing = json.loads(store.read_object(closure))
            refs.objects.update(sha for _rel, sha in listing['files'])
            refs.objects.add(closure)
    except (ReproError, OSError, ValueError, KeyError, TypeError) as exc:
        refs.problems.append(f'{who}: {getattr(exc, "message", None) or exc}')
