"""The run store: ``.repro/`` at the repository root (or ``$REPRO_HOME``).

Layout::

    .repro/.gitignore        '*': the store keeps itself out of git
    .repro/runs/<RUN_ID>/    manifest.json, logs and outputs of one run
    .repro/objects/ab/cdef…  content-addressed files (the lock, the Dockerfile)
    .repro/packs/<name>.pack  source blobs of one snapshot, concatenated;
    .repro/packs/<name>.idx   JSON {git blob id: [offset, size]} for it

A snapshot's new blobs go into one pack rather than one file each: creating
10,000 small files costs seconds on overlay filesystems, one sequential
write costs a fraction of that. A pack counts only once its index exists.

Run ids read as ``20261124-021000-cartpole_vpg-s0-3fa2``: they sort by start
time, name the launcher and seed, and end in random hex; the run directory
is created with an exclusive ``mkdir``, so concurrent runs never share one.
"""
import contextlib
import datetime
import json
import os
import re
import secrets

from repro._fs import atomic_writer
from repro.errors import AmbiguousRunError, RunNotFoundError, StoreError

MANIFEST = 'manifest.json'
_ID_CHARS = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_.-]*$')
_STEM_CHARS = re.compile(r'[^A-Za-z0-9_.]+')


def make_run_id(launcher, seed, now=None, suffix=None):
    """A readable, sortable run id (pure, given ``now`` and ``suffix``)."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    stem = _STEM_CHARS.sub('_', os.path.splitext(os.path.basename(launcher))[0]) or 'run'
    seed_part = 'sNone' if seed is None else f's{seed}'
    return (f'{now:%Y%m%d-%H%M%S}-{stem[:40]}-{seed_part}-'
            f'{suffix or secrets.token_hex(2)}')


def check_run_ref(ref):
    """Reject ids that could escape the store (``..``, ``/``) or are empty."""
    if not isinstance(ref, str) or not _ID_CHARS.match(ref) or '..' in ref:
        raise RunNotFoundError(f'not a valid run id: {ref!r}',
                               'run ids look like 20261124-021000-name-s0-3fa2')
    return ref


class RunStore:
    """Runs and content-addressed objects under one root directory."""

    def __init__(self, root):
        self.root = os.path.abspath(root)
        self._pack_index = None  # loaded on first use

    @classmethod
    def for_project(cls, project_root):
        return cls(os.environ.get('REPRO_HOME') or os.path.join(project_root, '.repro'))

    @property
    def runs_dir(self):
        return os.path.join(self.root, 'runs')

    def ensure(self):
        """Create the store (and its ``.gitignore``) if needed."""
        try:
            os.makedirs(self.runs_dir, exist_ok=True)
            ignore = os.path.join(self.root, '.gitignore')
            if not os.path.exists(ignore):
                with atomic_writer(ignore, 'w', fsync=False) as f:
                    f.write('# repro run store: never commit it\n*\n')
        except OSError as exc:
            raise StoreError(f'cannot create the run store at {self.root}: {exc.strerror}',
                             'set REPRO_HOME to a writable directory') from None
        return self

    # -- runs ---------------------------------------------------------------
    def create_run(self, launcher, seed, now=None):
        """Make a new run directory; returns its id."""
        self.ensure()
        for _ in range(100):
            run_id = make_run_id(launcher, seed, now)
            try:
                os.mkdir(os.path.join(self.runs_dir, run_id))
                return run_id
            except FileExistsError:
                continue
        raise StoreError('could not allocate a unique run id')

    def run_dir(self, run_id):
        return os.path.join(self.runs_dir, check_run_ref(run_id))

    def run_ids(self):
        try:
            names = os.listdir(self.runs_dir)
        except FileNotFoundError:
            return []
        return sorted(n for n in names if _ID_CHARS.match(n)
                      and os.path.isdir(os.path.join(self.runs_dir, n)))

    def resolve(self, ref):
        """The full run id for an id or a unique prefix of one."""
        check_run_ref(ref)
        ids = self.run_ids()
        if ref in ids:
            return ref
        matches = [i for i in ids if i.startswith(ref)]
        if not matches:
            raise RunNotFoundError(f'no run matches {ref!r}', 'list runs with `repro ls`')
        if len(matches) > 1:
            shown = ', '.join(matches[:3]) + (', …' if len(matches) > 3 else '')
            raise AmbiguousRunError(f'{ref!r} matches {len(matches)} runs ({shown})',
                                    'give more characters of the id')
        return matches[0]

    def write_manifest(self, run_id, manifest):
        """Write the manifest atomically, sealed with its own digest."""
        from repro.manifest import render, seal
        with atomic_writer(os.path.join(self.run_dir(run_id), MANIFEST), 'w') as f:
            f.write(render(seal(manifest)))

    def manifest_path(self, run_id):
        return os.path.join(self.run_dir(run_id), MANIFEST)

    def read_manifest(self, run_id):
        from repro.manifest import check_format
        path = os.path.join(self.run_dir(run_id), MANIFEST)
        try:
            with open(path, encoding='utf-8') as f:
                manifest = json.load(f)
        except FileNotFoundError:
            raise StoreError(f'run {run_id} has no manifest') from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise StoreError(f'manifest of run {run_id} is not valid JSON ({exc})') from None
        return check_format(manifest, path)

    # -- content-addressed objects -------------------------------------------
    def object_path(self, oid):
        if not re.fullmatch(r'[0-9a-f]{40}|[0-9a-f]{64}', oid):
            raise StoreError(f'not an object id: {oid!r}')
        return os.path.join(self.root, 'objects', oid[:2], oid[2:])

    def has_object(self, oid):
        return oid in self._packed() or os.path.exists(self.object_path(oid))

    def put_object(self, oid, data):
        """Store ``data`` under ``oid`` unless present; returns bytes written."""
        path = self.object_path(oid)
        if os.path.exists(path):
            return 0
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with atomic_writer(path, fsync=False) as f:
                f.write(data)
        except OSError as exc:  # e.g. disk full: the temporary file is gone
            raise StoreError(f'cannot write to the run store {self.root}: {exc.strerror}',
                             'free some space or set REPRO_HOME elsewhere') from None
        return len(data)

    def put_tree(self, tree, files):
        """Record the file listing of git tree ``tree`` (for replays)."""
        path = os.path.join(self.root, 'trees', f'{tree}.json')
        if not os.path.exists(path):
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with atomic_writer(path, 'w', fsync=False) as f:
                f.write(json.dumps(files, separators=(',', ':')))

    def get_tree(self, tree):
        path = os.path.join(self.root, 'trees', f'{tree}.json')
        try:
            with open(path, encoding='utf-8') as f:
                return [tuple(entry) for entry in json.load(f)]
        except FileNotFoundError:
            raise StoreError(f'source snapshot {tree} is missing from the store') from None

    def read_object(self, oid):
        """The bytes stored under ``oid``; FileNotFoundError if absent."""
        path = self.object_path(oid)
        if os.path.exists(path):
            with open(path, 'rb') as f:
                return f.read()
        if oid not in self._packed():
            self._packed(refresh=True)  # another process may have added a pack since
        if oid not in self._packed():
            raise FileNotFoundError(2, 'No such object in the store', path)
        pack, offset, size = self.object_location(oid)
        with open(pack, 'rb') as f:
            f.seek(offset)
            data = f.read(size)
        if len(data) != size:
            raise StoreError(f'pack {os.path.basename(pack)} in the store is truncated')
        return data

    # -- packs of source blobs ---------------------------------------------------
    @property
    def packs_dir(self):
        return os.path.join(self.root, 'packs')

    def _packed(self, refresh=False):
        """{oid: (pack name, offset, size)} over every committed pack (cached).

        A pack counts once its index exists; entries reaching past the end
        of their pack (a pack cut short by a crash) are dropped, so their
        blobs count as missing and the next snapshot stores them again.
        """
        if self._pack_index is None or refresh:
            index = {}
            try:
                names = sorted(n for n in os.listdir(self.packs_dir) if n.endswith('.idx'))
            except FileNotFoundError:
                names = []
            for name in names:
                pack = name[:-len('.idx')] + '.pack'
                try:
                    size_on_disk = os.path.getsize(os.path.join(self.packs_dir, pack))
                    with open(os.path.join(self.packs_dir, name), encoding='utf-8') as f:
                        entries = json.load(f)
                    for oid, (offset, size) in entries.items():
                        if offset + size <= size_on_disk:
                            index.setdefault(oid, (pack, offset, size))
                except (OSError, ValueError, TypeError, AttributeError):
                    continue  # unreadable index or no pack: its blobs count as missing
            self._pack_index = index
        return self._pack_index

    def _sweep_orphan_packs(self, older_than):
        """Delete packs a killed snapshot left without an index (and its temp
        files), once they are old enough not to belong to a live writer."""
        for entry in os.scandir(self.packs_dir):
            orphan = (entry.name.endswith('.pack') and not os.path.exists(
                os.path.join(self.packs_dir, entry.name[:-len('.pack')] + '.idx'))) or (
                entry.name.startswith('.') and entry.name.endswith('.tmp'))
            with contextlib.suppress(OSError):
                if orphan and entry.stat().st_mtime < older_than:
                    os.unlink(entry.path)

    def object_location(self, oid):
        """(pack file, offset, size) of a packed object."""
        pack, offset, size = self._packed()[oid]
        return os.path.join(self.packs_dir, pack), offset, size

    def put_pack(self, blobs):
        """Store ``blobs`` [(oid, bytes)…] as one pack; returns bytes written.

        Blobs already stored are skipped. The pack is written under a
        temporary name and its index last, so a crash or a full disk leaves
        no pack that counts and nothing half-written that looks whole.
        """
        import secrets as _secrets
        import time
        name = f'{datetime.datetime.now(datetime.timezone.utc):%Y%m%d%H%M%S}-' \
               f'{_secrets.token_hex(4)}'
        pack = os.path.join(self.packs_dir, name + '.pack')
        entries, offset = {}, 0
        try:
            os.makedirs(self.packs_dir, exist_ok=True)
            self._sweep_orphan_packs(time.time() - 3600)
            # Not fsynced (that would double the snapshot's cost): after a
            # power loss a pack cut short loses its entries (see _packed) and
            # a damaged blob fails its id check before any run or replay uses it.
            with atomic_writer(pack, fsync=False) as f:
                for oid, data in blobs:
                    if oid in entries or oid in self._packed():
                        continue
                    f.write(data)
                    entries[oid] = [offset, len(data)]
                    offset += len(data)
            if not entries:
                os.unlink(pack)
                return 0
            with atomic_writer(os.path.join(self.packs_dir, name + '.idx'), 'w',
                               fsync=False) as f:
                f.write(json.dumps(entries, separators=(',', ':')))
        except BaseException as exc:  # no index, so the pack never counts: remove it
            with contextlib.suppress(OSError):
                os.unlink(pack)
            if isinstance(exc, OSError):  # e.g. disk full
                raise StoreError(f'cannot write to the run store {self.root}: '
                                 f'{exc.strerror}', 'free some space or set REPRO_HOME '
                                 'elsewhere') from None
            raise
        for oid, (off, size) in entries.items():
            self._packed()[oid] = (name + '.pack', off, size)
        return offset
