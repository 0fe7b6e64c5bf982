"""The run store's sizes and garbage: what ``repro du`` shows and ``repro gc`` frees.

Garbage is what no kept run, sweep record or starting run references
(:mod:`repro.store.references`): packs whose blobs nobody needs (small
packs are compacted into one), loose objects, tree listings, exported
source trees, image archives no sweep names, and temporary files a killed
writer left, once they are an hour old. Only names repro writes are ever
considered: outputs of runs are never looked into. When some run's
references cannot be read, nothing they could reference is collected.
"""
import contextlib
import dataclasses
import json
import os
import re
import secrets
import shutil
import stat
import time

from repro.store import packs
from repro.core._fs import atomic_writer
from repro.errors import StoreError
from repro.store.manifest import RECORD_NAMES

TEMP_AGE = 3600          # seconds: a temporary file this old has no live writer
SMALL_PACK = 1 << 20     # packs with fewer live bytes are merged into one
_TEMP = re.compile(r'^\..+\.tmp$')           # the atomic writer's temporary files
_OID_FILE = re.compile(r'^[0-9a-f]{38}$|^[0-9a-f]{62}$')


@dataclasses.dataclass
class Garbage:
    """What ``repro gc`` would delete in the store: ``items`` are
    (category, path, bytes); ``compact`` the packs merged into one, with
    the live oids they hold; ``skipped`` says why sources were kept whole."""
    items: list = dataclasses.field(default_factory=list)
    compact: list = dataclasses.field(default_factory=list)
    compact_live: list = dataclasses.field(default_factory=list)
    compact_bytes: int = 0      # what merging frees: their size less the live bytes
    skipped: list = dataclasses.field(default_factory=list)


def size_of(path):
    """(files, bytes) under ``path``, links not followed (0, 0 if absent)."""
    try:
        st = os.lstat(path)
    except OSError:
        return 0, 0
    if not stat.S_ISDIR(st.st_mode):
        return 1, st.st_size
    files = total = 0
    for folder, dirs, names in os.walk(path):
        for name in names + [d for d in dirs if os.path.islink(os.path.join(folder, d))]:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(folder, name)).st_size
                files += 1
    return files, total


def usage(store):
    """{category: (count, bytes)} of the store: runs, objects and packs
    (with tree listings, exported sources and pins), image archives, sweeps."""
    def part(*names):
        sizes = [size_of(os.path.join(store.root, n)) for n in names]
        return sum(s[1] for s in sizes)
    archives = _listing(store, 'images')
    return {'runs': (len(store.run_ids()), part('runs')),
            'objects and packs': (len(packs.index_names(store.packs_dir)),
                                  part('packs', 'objects', 'trees', 'src', 'pins')),
            'image archives': (sum(n.endswith('.tar') for n in archives), part('images')),
            'sweeps': (len(_listing(store, 'sweeps')), part('sweeps'))}


def garbage(store, refs, now=None):
    """The store's :class:`Garbage` given the kept ``refs``."""
    now = time.time() if now is None else now
    found = Garbage()
    _temp_files(store, found, now - TEMP_AGE)
    found.items += [('temporary files', path, _bytes(path)) for path in refs.stale_pins]
    if refs.problems:
        found.skipped = list(refs.problems)
        return found  # what broken runs reference is unknown: keep every source
    _packs(store, refs, found)
    for sub in _listing(store, 'objects'):
        for name in _listing(store, 'objects', sub):
            if _OID_FILE.match(name) and sub + name not in refs.objects | refs.blobs:
                found.items.append(('objects', os.path.join(store.root, 'objects', sub, name),
                                    _bytes(os.path.join(store.root, 'objects', sub, name))))
    for name in _listing(store, 'trees'):
        if name.endswith('.json') and not name.startswith('.') \
                and name[:-len('.json')] not in refs.trees:
            path = os.path.join(store.root, 'trees', name)
            found.items.append(('trees', path, _bytes(path)))
    for name in _listing(store, 'src'):
        if not name.startswith('.') and name not in refs.trees:
            path = os.path.join(store.root, 'src', name)
            found.items.append(('exported sources', path, size_of(path)[1]))
    for name in _listing(store, 'images'):
        if name.endswith('.tar') and 'sha256:' + name[:-len('.tar')] not in refs.archives:
            path = os.path.join(store.root, 'images', name)
            found.items.append(('image archives', path, _bytes(path)))
    return found


def _packs(store, refs, found):
    small = []
    for name in packs.index_names(store.packs_dir):
        entries = packs.read_index(store.packs_dir, name)
        pack = os.path.join(store.packs_dir, name[:-len('.idx')] + '.pack')
        live = {oid: size for oid, (_off, size) in entries.items() if oid in refs.blobs}
        if not live:
            found.items.append(('packs', os.path.join(store.packs_dir, name), _bytes(
                os.path.join(store.packs_dir, name))))
            found.items.append(('packs', pack, _bytes(pack)))
        elif sum(live.values()) < SMALL_PACK or len(live) < len(entries):
            small.append((name, live))
    if len(small) > 1 or (small and len(small[0][1]) < len(packs.read_index(
            store.packs_dir, small[0][0]))):
        live = {}
        for name, oids in small:
            found.compact.append(name)
            for oid, size in oids.items():
                live.setdefault(oid, size)
        found.compact_live = sorted(live)
        found.compact_bytes = sum(
            _bytes(os.path.join(store.packs_dir, n)) + _bytes(os.path.join(
                store.packs_dir, n[:-len('.idx')] + '.pack')) for n in found.compact) \
            - sum(live.values())


def _temp_files(store, found, before):
    """Temporary files and folders that writers leave when killed, by the names
    they write: never anything inside a run's outputs."""
    places = [('', _TEMP), ('packs', _TEMP), ('trees', _TEMP), ('images', _TEMP),
              ('pins', _TEMP), ('src', re.compile(r'^\.tmp-'))]
    places += [(f'objects/{sub}', _TEMP) for sub in _listing(store, 'objects')]
    places += [(f'sweeps/{s}', _TEMP) for s in _listing(store, 'sweeps')]
    for run_id in _listing(store, 'runs'):
        places += [(f'runs/{run_id}', re.compile('|'.join(
            rf'^\.{re.escape(n)}\..+\.tmp$' for n in RECORD_NAMES))),
            (f'runs/{run_id}/meta', _TEMP)]
    for folder, pattern in places:
        for name in _listing(store, *folder.split('/')) if folder else _listing(store):
            path = os.path.join(store.root, folder, name)
            orphan = folder == 'packs' and name.endswith('.pack') and not os.path.lexists(
                path[:-len('.pack')] + '.idx')
            if (pattern.match(name) or orphan) and _mtime(path) < before:
                found.items.append(('temporary files', path, size_of(path)[1]))


def collect(store, found):
    """Delete ``found`` (hold the store lock exclusively); bytes freed."""
    freed = 0
    if found.compact:
        freed += _compact(store, found)
    for _category, path, size in found.items:
        try:
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.unlink(path)
            freed += size
        except FileNotFoundError:
            pass
    store._pack_index = None
    return freed


def _compact(store, found):
    """Write the live blobs of the small packs into one pack (its index last),
    then delete them: a crash in between leaves duplicates, never a loss."""
    # A name of its own: a second compaction in the same second must not
    # overwrite the first one's pack, which it is about to delete.
    name = f'{time.strftime("%Y%m%d%H%M%S", time.gmtime())}-{secrets.token_hex(4)}'
    path = os.path.join(store.packs_dir, name + '.pack')
    entries, offset = {}, 0
    with atomic_writer(path, fsync=True) as f:
        for oid in found.compact_live:
            try:
                data = store.read_object(oid)  # checked against its id
            except (StoreError, OSError):
                continue  # damaged (dropped) or gone: nothing to keep
            f.write(data)
            entries[oid] = [offset, len(data)]
            offset += len(data)
    with atomic_writer(os.path.join(store.packs_dir, name + '.idx'), 'w', fsync=True) as f:
        f.write(json.dumps(entries, separators=(',', ':')))
    before = sum(_bytes(os.path.join(store.packs_dir, n)) + _bytes(os.path.join(
        store.packs_dir, n[:-len('.idx')] + '.pack')) for n in found.compact)
    for index in found.compact:  # indexes first: a pack without one never counts
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(store.packs_dir, index))
    for index in found.compact:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(store.packs_dir, index[:-len('.idx')] + '.pack'))
    store._pack_index = None
    return before - offset - _bytes(os.path.join(store.packs_dir, name + '.idx'))


def delete_run(store, run_id):
    """Remove one run's directory (links inside are removed, never followed)."""
    path = store.run_dir(run_id)
    if not stat.S_ISDIR(os.lstat(path).st_mode):
        os.unlink(path)
    else:
        shutil.rmtree(path)


def _listing(store, *parts):
    """Names in a store folder (a real folder: a link there is refused)."""
    try:
        folder = store.subdir(*parts) if parts else store.root
        return sorted(os.listdir(folder))
    except (OSError, StoreError):
        return []


def _bytes(path):
    try:
        return os.lstat(path).st_size
    except OSError:
        return 0


def _mtime(path):
    try:
        return os.lstat(path).st_mtime
    except OSError:
        return float('inf')
