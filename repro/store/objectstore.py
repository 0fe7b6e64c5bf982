"""Content-addressed objects and source tree listings of the run store.

:class:`repro.store.runs.RunStore` gets these from :class:`ObjectStore`: loose
objects (``objects/ab/cdef…``: the lock, the Dockerfile), packs of source
blobs (:mod:`repro.store.packs`) and tree listings (``trees/<tree>.json``). All of
it is untrusted input: reads never follow links and only ever return bytes
that match their id; a damaged object is dropped, so the store heals.
"""
import contextlib
import datetime
import json
import os
import re
import secrets
import stat

from repro.store import packs
from repro.core._fs import atomic_writer
from repro.errors import StoreError, UntrustedFileError
from repro.store.packs import DamagedObjectError


class ObjectStore:
    """Objects under ``self.root``; RunStore provides ``root``, ``subdir``,
    ``_pack_index`` and ``blob_sources``."""

    # -- content-addressed objects -------------------------------------------
    def object_path(self, oid):
        if not packs.is_oid(oid):
            raise StoreError(f'not an object id: {oid!r}')
        return os.path.join(self.root, 'objects', oid[:2], oid[2:])

    def has_object(self, oid):
        return oid in self._packed() or os.path.lexists(self.object_path(oid))

    def put_object(self, oid, data):
        """Store ``data`` under ``oid`` unless present intact; returns bytes written."""
        path = self.object_path(oid)
        if os.path.lexists(path):
            with contextlib.suppress(StoreError, FileNotFoundError):
                if self.read_object(oid) == data:
                    return 0
        try:
            self.subdir('objects', oid[:2], create=True)
            with atomic_writer(path, fsync=False) as f:  # replaces a forged link, never follows it
                f.write(data)
        except OSError as exc:  # e.g. disk full: the temporary file is gone
            raise StoreError(f'cannot write to the run store {self.root}: {exc.strerror}',
                             'free some space or set REPRO_HOME elsewhere') from None
        return len(data)

    def put_tree(self, tree, files):
        """Record the file listing of git tree ``tree`` (for replays).

        Names that are not UTF-8 are kept as ``\\udcXX`` escapes (ASCII JSON);
        a listing already there is replaced unless it is byte-identical.
        """
        text = json.dumps(files, separators=(',', ':'), ensure_ascii=True).encode()
        rel = f'trees/{_tree_name(tree)}.json'
        with contextlib.suppress(StoreError, OSError):
            if self._read(rel, len(text)) == text:
                return
        self.subdir('trees', create=True)
        with atomic_writer(os.path.join(self.root, rel), fsync=False) as f:
            f.write(text)

    def get_tree(self, tree):
        """The checked listing [(path, mode, oid)] of tree ``tree``; StoreError else."""
        from repro.store.treesafe import check_files
        rel = f'trees/{_tree_name(tree)}.json'
        try:
            data = json.loads(self._read(rel, packs.MAX_INDEX).decode('utf-8'))
        except FileNotFoundError:
            raise StoreError(f'source snapshot {tree} is missing from the store') from None
        except (ValueError, RecursionError):
            raise StoreError(f'the file list {rel} in the run store is not valid JSON') \
                from None
        files = check_files(data)
        from repro.store.treesafe import tree_id
        if tree_id(files) != tree:  # a forged listing would run other code
            raise StoreError(f'the file list {rel} in the run store does not hash to tree '
                             f'{tree[:12]}; the store was tampered with')
        return files

    def _read(self, rel, limit):
        """Bytes of ``root/rel``, never through a link; FileNotFoundError if absent."""
        from repro.core import safefs
        if not os.path.lexists(os.path.join(self.root, rel)):
            raise FileNotFoundError(2, 'No such file in the store', rel)
        return safefs.read_bytes(self.root, rel, limit)

    def read_object(self, oid):
        """The bytes stored under ``oid``, checked against it; FileNotFoundError
        if absent, DamagedObjectError (after dropping it) if they do not match."""
        return b''.join(self.object_chunks(oid))

    def object_size(self, oid):
        """The stored size of ``oid`` (None if absent), without reading it."""
        if oid in self._packed():
            return self._packed()[oid][2]
        with contextlib.suppress(OSError):
            return os.lstat(self.object_path(oid)).st_size
        return None

    def object_chunks(self, oid):
        """An iterator over ``oid``'s bytes in chunks that raises
        DamagedObjectError after the last one unless they match the id."""
        loose = self._open_loose(oid)
        if loose is not None:
            size = os.fstat(loose.fileno()).st_size
            return packs.chunks(loose, oid, size, 'objects/',
                                lambda: _unlink(self.object_path(oid)))
        if oid not in self._packed():
            self._packed(refresh=True)  # another process may have added a pack since
        if oid not in self._packed():
            self.subdir('packs')  # a link there is refused, not read as "no packs"
            raise FileNotFoundError(2, 'No such object in the store', self.object_path(oid))
        pack, offset, size = self._packed()[oid]
        from repro.core import safefs
        try:
            f = safefs.open_regular(self.packs_dir, pack)
            f.seek(offset)
        except (OSError, UntrustedFileError):
            if not os.path.lexists(os.path.join(self.packs_dir, pack)):
                # `repro gc` compacted it away since this index was read.
                self._pack_index = None
                if oid in self._packed() and self._packed()[oid][0] != pack:
                    return self.object_chunks(oid)
            self._drop(pack, oid)
            raise DamagedObjectError(oid, f'pack {pack}') from None
        return packs.chunks(f, oid, size, f'pack {pack}', lambda: self._drop(pack, oid))

    def _open_loose(self, oid):
        path = self.object_path(oid)
        self.subdir('objects', oid[:2])  # a link there is refused
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except FileNotFoundError:
            return None
        except OSError:  # a link (ELOOP) or unreadable: never follow it
            _unlink(path)
            raise DamagedObjectError(oid, 'objects/') from None
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # a FIFO or device: never read it
            os.close(fd)
            _unlink(path)
            raise DamagedObjectError(oid, 'objects/')
        os.set_blocking(fd, True)
        return os.fdopen(fd, 'rb')

    def restore(self, oids):
        """Store ``oids`` again from the registered blob sources; returns the
        ones still missing."""
        for source in self.blob_sources:
            missing = [oid for oid in oids if not self.has_object(oid)]
            if missing:
                self.put_pack(source(missing))
        return [oid for oid in oids if not self.has_object(oid)]

    def check(self):
        """(problems, counts) over every pack, loose object and tree listing."""
        from repro.store.storecheck import check_store
        return check_store(self)

    # -- packs of source blobs ---------------------------------------------------
    @property
    def packs_dir(self):
        return os.path.join(self.root, 'packs')

    def _packed(self, refresh=False):
        """{oid: (pack name, offset, size)} over every committed pack (cached).

        Entries reaching past the end of their pack (a pack cut short by a
        crash) or malformed are dropped, so their blobs count as missing and
        the next snapshot stores them again.
        """
        if self._pack_index is None or refresh:
            self._pack_index = packs.load(self.packs_dir)
        return self._pack_index

    def _drop(self, pack, oid):
        packs.drop(self.packs_dir, pack, oid)
        self._pack_index = None  # another pack may hold a good copy

    def _sweep_orphan_packs(self, older_than):
        """Delete packs a killed snapshot left without an index (and its temp
        files), once they are old enough not to belong to a live writer."""
        for entry in os.scandir(self.packs_dir):
            orphan = (entry.name.endswith('.pack') and not os.path.lexists(
                os.path.join(self.packs_dir, entry.name[:-len('.pack')] + '.idx'))) or (
                entry.name.startswith('.') and entry.name.endswith('.tmp'))
            with contextlib.suppress(OSError):
                if orphan and entry.stat(follow_symlinks=False).st_mtime < older_than:
                    os.unlink(entry.path)

    def object_location(self, oid):
        """(pack file, offset, size) of a packed object."""
        pack, offset, size = self._packed()[oid]
        return os.path.join(self.packs_dir, pack), offset, size

    def put_pack(self, blobs):
        """Store ``blobs`` [(oid, data)…] as one pack; returns bytes written.

        ``data`` is bytes or (size, iterable of chunks), so a large file is
        copied in pieces (see :func:`repro.store.packs.write`). Blobs already
        stored are skipped. The pack is written under a temporary name and
        its index last, so a crash or a full disk leaves no pack that counts.
        """
        import time
        name = f'{datetime.datetime.now(datetime.timezone.utc):%Y%m%d%H%M%S}-' \
               f'{secrets.token_hex(4)}'
        packs_dir = self.subdir('packs', create=True)
        pack = os.path.join(packs_dir, name + '.pack')
        try:
            self._sweep_orphan_packs(time.time() - 3600)
            # Not fsynced (that would double the snapshot's cost): after a
            # power loss a pack cut short loses its entries (see _packed) and
            # a damaged blob fails its id check when read, and is dropped.
            with atomic_writer(pack, fsync=False) as f:
                entries, total = packs.write(f, blobs, lambda oid: oid in self._packed())
            if not entries:
                os.unlink(pack)
                return 0
            with atomic_writer(os.path.join(packs_dir, name + '.idx'), 'w',
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
        return total


def _tree_name(tree):
    """``tree`` if it is a git tree id (so it names no other file), else StoreError."""
    if not isinstance(tree, str) or not re.fullmatch(r'[0-9a-f]{40}', tree):
        raise StoreError(f'not a source tree id: {tree!r}')
    return tree


def _unlink(path):
    with contextlib.suppress(OSError):
        os.unlink(path)
