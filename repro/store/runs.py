"""The run store: ``.repro/`` at the repository root (or ``$REPRO_HOME``).

Layout::

    .repro/.gitignore        '*': the store keeps itself out of git
    .repro/runs/<RUN_ID>/    manifest.json, logs and outputs of one run
    .repro/objects/ab/cdef…  content-addressed files (the lock, the Dockerfile)
    .repro/packs/<name>.pack  source blobs of one snapshot, concatenated;
    .repro/packs/<name>.idx   JSON {git blob id: [offset, size]} for it
    .repro/pins/<name>.json  what a starting run will reference (see references.py)
    .repro/.lock             taken shared by starting runs, exclusive by ``repro gc``

A snapshot's new blobs go into one pack rather than one file each: creating
10,000 small files costs seconds on overlay filesystems, one sequential
write costs a fraction of that. A pack counts only once its index exists.

The store is untrusted input (it may be a committed ``.repro/``): its
folders must be real folders, never links; reads never follow links; and
an object is only ever returned after its bytes match its id
(:mod:`repro.store.packs`, :mod:`repro.store.treesafe`, :mod:`repro.store.storecheck`).

Run ids read as ``20261124-021000-cartpole_vpg-s0-3fa2``: they sort by start
time, name the launcher and seed, and end in random hex; the run directory
is created with an exclusive ``mkdir``, so concurrent runs never share one.
"""
import contextlib
import datetime
import fcntl
import os
import re
import secrets
import stat
import time

from repro.core._fs import atomic_writer
from repro.errors import AmbiguousRunError, RunNotFoundError, StoreError
from repro.store.manifest import MANIFEST_NAME as MANIFEST
from repro.store.objectstore import ObjectStore
from repro.store.packs import DamagedObjectError  # noqa: F401  (reads raise it; importable here)

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


class RunStore(ObjectStore):
    """Runs and content-addressed objects under one root directory."""

    def __init__(self, root):
        self.root = os.path.abspath(root)
        self._pack_index = None  # loaded on first use
        self._in_project = False  # the default .repro, which a repository may carry
        # Callables oids -> [(oid, data)…] that can store blobs again (a
        # snapshot registers its working tree): a damaged blob heals in place.
        self.blob_sources = []
        self._pins = []  # this process's pins, dropped once a manifest names the run

    @classmethod
    def for_project(cls, project_root):
        home = os.environ.get('REPRO_HOME')
        store = cls(home or os.path.join(project_root, '.repro'))
        store._in_project = not home
        return store

    @property
    def runs_dir(self):
        return os.path.join(self.root, 'runs')

    def ensure(self):
        """Create the store (and its ``.gitignore``) if needed."""
        if self._in_project and os.path.islink(self.root):
            raise StoreError(f'the run store {self.root} is a link; a repository must not '
                             'point repro elsewhere', 'remove the link or set REPRO_HOME')
        try:
            self.subdir('runs', create=True)
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
        if os.path.islink(self.root) and not os.environ.get('REPRO_HOME'):
            raise StoreError(f'the run store {self.root} is a link; the store was tampered '
                             'with', 'remove it, or set REPRO_HOME to the real store')
        try:
            names = os.listdir(self.subdir('runs'))
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
        """Write the manifest atomically, sealed with its own digest. It names
        what the run references from now on, so this process's pins go."""
        from repro.store.manifest import render, seal
        with atomic_writer(os.path.join(self.run_dir(run_id), MANIFEST), 'w') as f:
            f.write(render(seal(manifest)))
        self.unpin()

    # -- the store lock and pins (see repro.store.references) ----------------------
    @contextlib.contextmanager
    def locked(self, exclusive=False, wait=None):
        """Hold the store lock: shared while a run stores and pins its
        snapshot (runs never wait for each other), exclusive while ``repro
        gc`` decides and deletes. ``wait``: seconds before a StoreError."""
        self.ensure()
        try:
            fd = os.open(os.path.join(self.root, '.lock'),
                         os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666)
        except OSError as exc:
            raise StoreError(f'cannot lock the run store {self.root}: {exc.strerror}') from None
        try:
            mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
            deadline = None if wait is None else time.monotonic() + wait
            while True:
                try:
                    fcntl.flock(fd, mode | (0 if deadline is None else fcntl.LOCK_NB))
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise StoreError(f'the run store {self.root} stayed busy for {wait:g} s '
                                         '(runs were starting)', 'try again') from None
                    time.sleep(0.05)
            yield self
        finally:
            os.close(fd)

    def pin(self, runner, tree, objects, image_key):
        """Pin what a starting run will reference (call it under :meth:`locked`)."""
        from repro.store.references import write_pin
        self._pins.append(write_pin(self, runner, tree, objects, image_key))

    def unpin(self):
        """Drop this process's pins (sweep members write manifests from many
        threads: the list is swapped out whole, never popped in a race)."""
        from repro.store.references import drop_pin
        pins, self._pins = self._pins, []
        for path in pins:
            drop_pin(path)

    def write_attestation(self, run_id, text):
        """Write a run's signed attestation atomically (replacing an older one)."""
        from repro.store.manifest import ATTESTATION_NAME
        with atomic_writer(os.path.join(self.run_dir(run_id), ATTESTATION_NAME), 'w') as f:
            f.write(text)

    def manifest_path(self, run_id):
        return os.path.join(self.run_dir(run_id), MANIFEST)

    def read_manifest(self, run_id):
        """The parsed manifest, format checked only (the reaper, benchmarks);
        commands use :func:`repro.store.manifest_loader.load`, which checks it all."""
        from repro.core import safefs
        from repro.store.manifest import check_format
        return check_format(safefs.read_json(self.run_dir(run_id), MANIFEST),
                            self.manifest_path(run_id))

    # -- folders ---------------------------------------------------------------
    def subdir(self, *parts, create=False):
        """``root/parts…``, each part a real folder (made if ``create``).

        A link or a file where a folder should be is refused, so a forged
        store cannot send a write or a read outside it.
        """
        path = self.root
        if create:
            os.makedirs(path, exist_ok=True)
        for part in parts:
            path = os.path.join(path, part)
            try:
                mode = os.lstat(path).st_mode
            except FileNotFoundError:
                if not create:
                    return path
                with contextlib.suppress(FileExistsError):
                    os.mkdir(path)
                mode = os.lstat(path).st_mode
            if not stat.S_ISDIR(mode):
                raise StoreError(f'{os.path.relpath(path, self.root)} in the run store '
                                 f'{self.root} is not a folder (a link or a file); the '
                                 'store was tampered with', 'remove it')
        return path

