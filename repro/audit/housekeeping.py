"""``repro du``, ``repro rm`` and ``repro gc``: disk use and clean-up.

Every run image is 260 MB to 1 GB and nothing else removes them; killed
writers leave temporary files; runs removed leave their sources behind.
:func:`collect` finds all of that from what the kept runs, sweeps and
starting runs reference (:mod:`repro.store.references`), and deletes it
only with ``apply``, holding the store lock exclusively: a run that starts
meanwhile waits at its snapshot, then stores what it needs again.
"""
import dataclasses

from repro.engines import liveness
from repro.errors import InUseError
from repro.images import cachegc
from repro.store import gc as store_gc
from repro.store.references import kept_references

LOCK_WAIT = 60  # seconds gc waits for starting runs to store and pin their snapshots
_UNITS = {'': 1, 'b': 1, 'k': 10**3, 'kb': 10**3, 'm': 10**6, 'mb': 10**6, 'g': 10**9,
          'gb': 10**9, 't': 10**12, 'tb': 10**12, 'kib': 2**10, 'mib': 2**20, 'gib': 2**30,
          'tib': 2**40}


def parse_size(text):
    """Bytes of a size such as ``500M``, ``2G``, ``1.5GiB`` or ``1000`` (pure);
    ConfigError for anything else."""
    import re

    from repro.errors import ConfigError
    match = re.fullmatch(r'\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*', text or '')
    if not match or match.group(2).lower() not in _UNITS:
        raise ConfigError(f'invalid size {text!r}', 'use a number with an optional unit: '
                          '500M, 2G, 1.5GiB')
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


def _live(runner):
    """Whether a pin's process may still run (what cannot be told counts as live)."""
    if not isinstance(runner, dict):
        return False
    pid = runner.get('pid')
    start = liveness.process_start(pid) if isinstance(pid, int) and pid > 0 else None
    return not liveness.is_stale(runner, liveness.here(), start)


def disk_usage(store, engine, cache):
    """What ``repro du`` shows: the store's and the cache's sizes by category,
    and the images repro built with the runs that use each."""
    refs = kept_references(store, _live)
    images = cachegc.built_images(engine, cache) if engine is not None else None
    for image in images or ():
        image['runs'] = sorted(refs.users.get(image['id'], []))
    return {'store': store.root, 'store_usage': store_gc.usage(store), 'cache': cache,
            'cache_usage': cachegc.usage(cache), 'images': images, 'problems': refs.problems}


@dataclasses.dataclass
class Collected:
    """What gc found (and freed, with ``applied``): items are (category, name, bytes)."""
    items: list
    images: list
    image_bytes: int          # what removing them frees (layers no kept image shares)
    compacted: int            # packs merged into one
    compact_bytes: int
    skipped: list             # why sources and images were kept whole
    errors: list
    applied: bool

    @property
    def total(self):
        return sum(size for _c, _p, size in self.items) + self.compact_bytes + self.image_bytes


def collect(store, engine, cache, keep_images=2, max_wheel_bytes=None, apply=False,
            wait=LOCK_WAIT):
    """Find (and with ``apply`` delete) the garbage of the store, the cache
    and the engine's images repro built; a :class:`Collected`."""
    import contextlib
    locked = store.locked(exclusive=True, wait=wait) if apply else contextlib.nullcontext()
    with locked:
        refs = kept_references(store, _live)
        found = store_gc.garbage(store, refs)
        images, image_bytes = [], 0
        if engine is not None and not refs.problems:
            labelled = engine.images(cachegc.LABEL_KEY)
            images = cachegc.unused_images(cachegc.built_images(engine, cache, labelled),
                                           refs, keep_images)
            image_bytes = cachegc.reclaimable(engine, labelled, {i['id'] for i in images})
        cache_items = cachegc.garbage(cache, max_wheel_bytes)
        errors = []
        if apply:
            removed, errors = cachegc.remove_images(engine, cache, images)
            if len(removed) < len(images):
                image_bytes = cachegc.reclaimable(engine, labelled, {i['id'] for i in removed})
            images = removed
            store_gc.collect(store, found)
            cachegc.delete(cache_items)
    return Collected(found.items + cache_items, images, image_bytes, len(found.compact),
                     found.compact_bytes, found.skipped, errors, apply)


def remove_runs(store, refs, force=False):
    """``repro rm``: remove the runs ``refs`` name (ids or unique prefixes);
    their ids. A run that another run replays or continues (``resumed_from``),
    that a sweep lists, or that still runs is kept (InUseError naming why) unless ``force``; nothing is
    removed unless every run can be."""
    from repro.store.manifest_loader import read
    from repro.store.sweeps import SweepStore
    run_ids = list(dict.fromkeys(store.resolve(ref) for ref in refs))
    with store.locked(exclusive=True, wait=LOCK_WAIT):
        manifests = {run_id: read(store, run_id)[0] for run_id in store.run_ids()}
        sweeps = set(SweepStore(store).ids())
        for run_id in run_ids if not force else ():
            why = _in_use(run_id, manifests, sweeps, set(run_ids))
            if why:
                raise InUseError(f'run {run_id} {why}', 'remove that too, or use --force')
        for run_id in run_ids:
            store_gc.delete_run(store, run_id)
    return run_ids


def _in_use(run_id, manifests, sweeps, removed):
    manifest = manifests.get(run_id) or {}
    replays = sorted(other for other, m in manifests.items()
                     if m and m.get('replay_of') == run_id and other not in removed)
    if replays:
        return f'is replayed by run {replays[0]}'
    resumed = sorted(other for other, m in manifests.items()
                     if m and m.get('resumed_from') == run_id and other not in removed)
    if resumed:  # its outputs are an input of that run (and of that run's replays)
        return f'is continued by run {resumed[0]}'
    sweep = manifest.get('sweep')
    if isinstance(sweep, dict) and sweep.get('id') in sweeps:
        return f'is a member of sweep {sweep["id"]}'
    if manifest and liveness.status_of(manifest) == 'running':
        return 'is still running'
    return None
