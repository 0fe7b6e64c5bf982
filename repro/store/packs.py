"""Packs of source blobs in the run store: written streaming, read verified.

A pack is ``packs/<name>.pack`` (blobs concatenated) plus ``<name>.idx``
(JSON {git blob id: [offset, size]}); it counts once its index exists.

The store may be forged or damaged, so index entries are checked for shape
and range, and every read is hashed against the object's id. A blob that
fails is dropped from its pack's index: it then counts as missing, and the
next snapshot stores it again, instead of every later run failing on it.
Contents move in chunks, so a 1 GB file never sits in memory.
"""
import hashlib
import json
import os
import re
import stat

from repro.core import safefs
from repro.core._fs import atomic_writer
from repro.errors import StoreError, UntrustedFileError

CHUNK = 1 << 20
MAX_INDEX = 256 << 20
_OID = re.compile(r'[0-9a-f]{40}|[0-9a-f]{64}')


class DamagedObjectError(StoreError):
    """An object's bytes did not match its id; it was dropped from the store."""

    def __init__(self, oid, where):
        super().__init__(f'object {oid[:12]} in {where} of the run store was damaged (it '
                         'did not match its id) and has been dropped from the store',
                         'run again: the next snapshot stores it afresh')
        self.oid = oid


class SkipBlob(Exception):
    """Raised by a blob's chunk iterator: leave this blob out of the pack."""


def hasher(oid, size):
    """What an object's bytes must hash to ``oid`` with: git's blob id for
    40 hex digits, SHA-256 for 64."""
    return hashlib.sha1(b'blob %d\0' % size) if len(oid) == 40 else hashlib.sha256()


def is_oid(oid):
    return isinstance(oid, str) and _OID.fullmatch(oid) is not None


def _entry(oid, loc):
    """(offset, size) of a well-formed index entry, else None (pure)."""
    if not is_oid(oid) or not isinstance(loc, list) or len(loc) != 2:
        return None
    if not all(type(n) is int and n >= 0 for n in loc):  # no bools, no negatives
        return None
    return loc[0], loc[1]


def read_index(packs_dir, name):
    """{oid: (offset, size)} of index ``name``, entries checked against its pack."""
    pack = name[:-len('.idx')] + '.pack'
    try:
        st = os.lstat(os.path.join(packs_dir, pack))
        entries = json.loads(safefs.read_bytes(packs_dir, name, MAX_INDEX))
    except (OSError, ValueError, UntrustedFileError):
        return {}  # unreadable index or no pack: its blobs count as missing
    if not stat.S_ISREG(st.st_mode) or not isinstance(entries, dict):
        return {}
    out, end, match = {}, st.st_size, _OID.fullmatch
    for oid, loc in entries.items():  # _entry, inlined: 10,000 entries per snapshot
        if type(loc) is list and len(loc) == 2 and type(loc[0]) is int \
                and type(loc[1]) is int and loc[0] >= 0 and loc[1] >= 0 \
                and loc[0] + loc[1] <= end and match(oid):  # a pack cut short loses entries
            out[oid] = (loc[0], loc[1])
    return out


def index_names(packs_dir):
    try:
        if not stat.S_ISDIR(os.lstat(packs_dir).st_mode):
            return []  # a link or a file where the folder should be: no packs
        return sorted(n for n in os.listdir(packs_dir)
                      if n.endswith('.idx') and not n.startswith('.'))
    except OSError:
        return []


def load(packs_dir):
    """{oid: (pack name, offset, size)} over every committed pack."""
    index = {}
    for name in index_names(packs_dir):
        pack = name[:-len('.idx')] + '.pack'
        for oid, (offset, size) in read_index(packs_dir, name).items():
            index.setdefault(oid, (pack, offset, size))
    return index


def drop(packs_dir, pack, oid):
    """Remove ``oid`` from ``pack``'s index, so it counts as missing from now on."""
    name = pack[:-len('.pack')] + '.idx'
    try:
        entries = json.loads(safefs.read_bytes(packs_dir, name, MAX_INDEX))
        if isinstance(entries, dict) and entries.pop(oid, None) is not None:
            with atomic_writer(os.path.join(packs_dir, name), 'w', fsync=False) as f:
                f.write(json.dumps(entries, separators=(',', ':')))
    except (OSError, ValueError, UntrustedFileError):
        pass  # a read-only or broken store: every read still checks the id


def chunks(f, oid, size, where, on_damage):
    """Yield ``size`` bytes of ``f`` in chunks; raise DamagedObjectError after
    the last one (and call ``on_damage``) unless they hash to ``oid``."""
    digest, left = hasher(oid, size), size
    with f:
        while left:
            block = f.read(min(CHUNK, left))
            if not block:
                break
            digest.update(block)
            left -= len(block)
            yield block
    if left or digest.hexdigest() != oid:
        on_damage()
        raise DamagedObjectError(oid, where)


def write(f, blobs, skip):
    """Append ``blobs`` [(oid, bytes or (size, chunk iterable))…] to pack file
    ``f``, leaving out oids for which ``skip(oid)`` holds; returns the entries.

    A chunk iterator may raise SkipBlob (its file changed, or a clean filter
    makes it differ from git's blob): its bytes are cut off again.
    """
    entries, offset = {}, 0
    for oid, data in blobs:
        if oid in entries or skip(oid):
            continue
        if isinstance(data, (bytes, bytearray, memoryview)):
            f.write(data)
            size = len(data)
        else:
            size, written = data[0], 0
            try:
                for block in data[1]:
                    f.write(block)
                    written += len(block)
            except SkipBlob:
                f.seek(offset)
                f.truncate()
                continue
            if written != size:
                raise StoreError(f'blob {oid[:12]} changed size while it was stored')
        entries[oid] = [offset, size]
        offset += size
    return entries, offset
