"""Archives compared by their members, never extracted.

A model saved with ``zipfile`` (an ``.npz``, a stable-baselines3 ``.zip``) or
a ``tar`` carries member timestamps, so two identical trainings write
archives whose bytes differ. Here only member names and member bytes count;
timestamps, permissions, owners and the order of entries are ignored.

Archives are found by magic bytes (zip; tar, possibly inside gzip, bzip2 or
xz), whatever their name says; a compressed file that is not a tar counts
as one member, its decompressed bytes. They come from a container, so they
are streamed through hashes (nothing is written to disk) under limits: at
most :data:`MAX_MEMBERS` entries, :data:`MAX_UNPACKED` decompressed bytes
for one comparison, :data:`MAX_READ` bytes for one header read (a forged
tar header cannot claim gigabytes of memory). A member that is itself an
archive (sb3 saves torch's ``.pth`` zips inside its ``.zip``) is compared
the same way, one level deep. :mod:`repro.contentcheck` reads pickle
members with :func:`read_member` inside the run's image.
"""
import bz2
import gzip
import hashlib
import io
import lzma
import tarfile
import zipfile
import zlib

from repro.errors import UntrustedFileError
from repro.core.safefs import display

MAX_MEMBERS = 1 << 16
MAX_UNPACKED = 16 << 30
MAX_READ = 64 << 20
MAX_NESTED = 256 << 20    # a member archive is held in memory to be opened
CHUNK = 1 << 20
HEAD = 512
PICKLES = ('.pkl', '.pickle')
_STREAMS = {b'\x1f\x8b': ('gzip', lambda f: gzip.GzipFile(fileobj=f, mode='rb')),
            b'BZh': ('bzip2', bz2.BZ2File), b'\xfd7zXZ\x00': ('xz', lzma.LZMAFile)}
_ERRORS = (zipfile.BadZipFile, tarfile.TarError, zlib.error, lzma.LZMAError, EOFError,
           OSError, RuntimeError, NotImplementedError, ValueError, KeyError, MemoryError)


def kind_of(head):
    """'zip', 'tar', 'gzip', 'bzip2', 'xz' or None, from a file's first bytes (pure)."""
    if head[:4] in (b'PK\x03\x04', b'PK\x05\x06'):
        return 'zip'
    if head[257:262] == b'ustar':
        return 'tar'
    return next((name for magic, (name, _) in _STREAMS.items() if head.startswith(magic)),
                None)


class Budget:
    """Entries and decompressed bytes left for one comparison."""

    def __init__(self, total=MAX_UNPACKED, members=MAX_MEMBERS):
        self.bytes, self.members = total, members

    def take(self, size=0, members=0):
        self.bytes -= size
        self.members -= members
        if self.bytes < 0 or self.members < 0:
            raise UntrustedFileError('archive holds more than the limits allow '
                                     f'({MAX_MEMBERS} entries, {MAX_UNPACKED} bytes)')


class _Counted(io.RawIOBase):
    """A decompressed stream whose bytes are charged to a budget, with no huge reads."""

    def __init__(self, raw, budget):
        self.raw, self.budget, self.high = raw, budget, 0

    def readable(self):
        return True

    def seekable(self):
        return True

    def read(self, size=-1):
        if size is None or size < 0 or size > MAX_READ:
            raise UntrustedFileError(f'archive asks for a read of {size} bytes; refused')
        data = self.raw.read(size)
        self._reach(self.raw.tell())
        return data

    def seek(self, pos, whence=0):
        target = pos if whence == 0 else self.raw.tell() + pos if whence == 1 else None
        if target is None:
            raise UntrustedFileError('archive seeks from its end; refused')
        self._reach(target)
        return self.raw.seek(target)

    def tell(self):
        return self.raw.tell()

    def _reach(self, pos):
        if pos > self.high:
            self.budget.take(pos - self.high)
            self.high = pos


def _open(fileobj, budget):
    """('zip', the file), ('tar', its stream) or ('stream', a compressed file's
    decompressed bytes); the streams charge what they unpack to ``budget``."""
    head = fileobj.read(HEAD)
    fileobj.seek(0)
    kind = kind_of(head)
    if kind in ('zip', 'tar', None):
        return kind, fileobj if kind == 'zip' else _Counted(fileobj, budget)
    opener = next(o for magic, (_, o) in _STREAMS.items() if head.startswith(magic))
    inner = opener(fileobj).read(HEAD)  # a tar shows its magic at byte 257
    fileobj.seek(0)
    is_tar = inner[257:262] == b'ustar'
    return 'tar' if is_tar else 'stream', _Counted(opener(fileobj), budget)


def _guarded(what, fn, *args):
    try:
        return fn(*args)
    except UntrustedFileError:
        raise
    except _ERRORS as exc:
        raise UntrustedFileError(f'{what} ({type(exc).__name__}: '
                                 f'{display(str(exc)[:200])})') from None


def members(fileobj, budget):
    """{name: (kind, sha256 or link target, size, first bytes)} of an archive's
    entries; UntrustedFileError if it is malformed or beyond the limits."""
    return _guarded('not a readable archive', _members, fileobj, budget)


def _members(fileobj, budget):
    kind, stream = _open(fileobj, budget)
    if kind == 'zip':
        return _zip_members(stream, budget)
    if kind == 'tar':
        return _tar_members(stream, budget)
    return {'': _digest(stream, budget)}


def _digest(stream, budget, charge=False):
    digest, size, head = hashlib.sha256(), 0, b''
    while block := stream.read(CHUNK):
        if charge:
            budget.take(len(block))
        head = head or block[:HEAD]
        digest.update(block)
        size += len(block)
    return ('file', digest.hexdigest(), size, head)


def _zip_directory(fileobj, budget):
    """An open ZipFile, once its directory's size and entry count are in limits."""
    end = zipfile._EndRecData(fileobj)  # read before ZipFile loads the directory
    if end is None:
        raise UntrustedFileError('not a readable archive (no zip directory)')
    budget.take(members=end[zipfile._ECD_ENTRIES_TOTAL])
    if end[zipfile._ECD_SIZE] > MAX_READ:
        raise UntrustedFileError('zip directory larger than the limit; refused')
    return zipfile.ZipFile(fileobj)


def _zip_members(fileobj, budget):
    out = {}
    with _zip_directory(fileobj, budget) as zf:
        for info in zf.infolist():
            _unique(out, info.filename)
            if info.is_dir() and info.file_size == 0:  # a "dir/" entry can hold data too
                out[info.filename] = ('dir', '', 0, b'')
                continue
            with zf.open(info) as member:
                out[info.filename] = _digest(member, budget, charge=True)
    return out


def _tar_members(stream, budget):
    out = {}
    with tarfile.open(fileobj=stream, mode='r:') as tf:
        for info in tf:
            budget.take(members=1)
            _unique(out, info.name)
            if info.isfile():
                out[info.name] = _digest(tf.extractfile(info), budget)
            elif info.issym() or info.islnk():
                out[info.name] = ('link', info.linkname, 0, b'')
            else:
                out[info.name] = ('dir' if info.isdir() else 'other', '', 0, b'')
    return out


def _unique(out, name):
    if name in out:
        raise UntrustedFileError(f'archive member {display(name)} appears twice')


def read_member(fileobj, name, limit=MAX_NESTED):
    """The bytes of member ``name`` ('' for a compressed file's content), at most
    ``limit``, read under the same limits as :func:`members`."""
    return _guarded(f'cannot read member {display(name)}', _read_member, fileobj, name, limit)


def _read_member(fileobj, name, limit):
    budget = Budget()
    kind, stream = _open(fileobj, budget)
    if kind == 'zip':
        with _zip_directory(stream, budget) as zf, zf.open(zf.getinfo(name)) as member:
            return _capped(member, limit)
    if kind == 'stream' and name == '':
        return _capped(stream, limit)
    if kind == 'tar':
        with tarfile.open(fileobj=stream, mode='r:') as tf:
            for info in tf:
                budget.take(members=1)
                if info.name == name and info.isfile():
                    return _capped(tf.extractfile(info), limit)
    raise UntrustedFileError(f'archive has no member {display(name)}')


def _capped(stream, limit):
    chunks, size = [], 0
    while block := stream.read(CHUNK):
        size += len(block)
        if size > limit:
            raise UntrustedFileError(f'member larger than {limit} bytes; not read')
        chunks.append(block)
    return b''.join(chunks)


def is_pickle(name):
    return name.endswith(PICKLES)


def compare_archives(path, open_a, open_b, nested=False, timing=None, timed=None):
    """(divergences, members compared, pickle members whose bytes differ) of two
    archives; ``open_a()``/``open_b()`` give binary file objects.

    JSON members whose bytes differ are compared by content
    (:mod:`repro.core.jsoncompare`); the wall-clock fields skipped there are
    appended to ``timed`` as ``member:json.path``.
    """
    from repro.core.tables import Divergence
    budget = Budget()
    with open_a() as fa, open_b() as fb:
        ma, mb = members(fa, budget), members(fb, budget)
    out, compared, pickles = [], 0, []
    for name in sorted(ma.keys() | mb.keys()):
        a, b = ma.get(name), mb.get(name)
        if a is None or b is None:
            side = 'missing from the replay' if b is None else 'only in the replay'
            out.append(Divergence(path, f'member {side}', name, label='member'))
            continue
        compared += 1
        if a[:2] == b[:2]:
            continue
        if a[0] != b[0] or a[0] == 'link':
            out.append(Divergence(path, 'member kinds or link targets differ', name,
                                  f'{a[0]} {a[1]}'.strip(), f'{b[0]} {b[1]}'.strip(),
                                  label='member'))
        elif not nested and kind_of(a[3]) and kind_of(b[3]):  # an archive in the archive
            inner = [_read(opener, name) for opener in (open_a, open_b)]
            nested_timed = []
            diffs, count, _ = compare_archives(path, *(lambda d=d: io.BytesIO(d)
                                                       for d in inner), nested=True,
                                               timing=timing, timed=nested_timed)
            if timed is not None:
                timed.extend(f'{name}/{where}' for where in nested_timed)
            out += [Divergence(d.path, d.where, f'{name}/{d.metric}', d.original, d.replay,
                               label='member') for d in diffs]
            compared += count
        elif is_pickle(name) and not nested and not _torch_data(name, ma):
            pickles.append(name)
        else:
            found = _json_member(open_a, open_b, name, timing, timed)
            if found is False:
                continue  # equal as JSON: only wall-clock fields or addresses differ
            why = ' (a pickle inside a nested archive or torch data.pkl: not unpickled)' \
                if is_pickle(name) else f': {found}' if found else ''
            out.append(Divergence(path, f'member bytes differ ({a[2]} vs {b[2]} bytes){why}',
                                  name, label='member'))
    return out, compared, pickles


def _read(opener, name):
    with opener() as fileobj:
        return read_member(fileobj, name)


def _json_member(open_a, open_b, name, timing, timed):
    """False if both members are JSON equal in content, the difference if
    they are JSON that differs, None if they are not JSON."""
    from repro.core import jsoncompare
    from repro.core.timing import TimingRules
    data = [jsoncompare.load(_read(opener, name)) for opener in (open_a, open_b)]
    if data[0] is None or data[1] is None:
        return None
    skipped = []
    found = jsoncompare.difference(*data, timing or TimingRules(), timed=skipped)
    if timed is not None:
        timed.extend(f'{name}:{where}' for where in jsoncompare.collapse(skipped))
    return found or False


def _torch_data(name, entries):
    """Whether ``name`` is torch's data.pkl, which loads only with its storages."""
    prefix = name[:-len('data.pkl')]
    return name.endswith('data.pkl') and f'{prefix}version' in entries
