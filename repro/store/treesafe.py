"""Source trees from the run store, written and checked without trusting it.

A tree listing may come from ``trees/<tree>.json`` of a forged store (say, a
committed ``.repro/``). So every entry is checked before anything is written;
files are created relative to folder descriptors opened with O_NOFOLLOW
(a listed link is created as data, never written through); and a tree
exported earlier is walked with lstat and re-hashed before each use.
Names are ``str`` with surrogate escapes, so names that are not UTF-8 reach
the disk as the same bytes.
"""
import hashlib
import os

from repro.errors import StoreError
from repro.store.packs import DamagedObjectError

MODES = ('100644', '100755', '120000', '160000')
MAX_LINK = 4095  # PATH_MAX less the NUL: no real link target is longer
_HEX = frozenset('0123456789abcdef')
_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_NEW = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def _refuse(path, why):
    from repro.core.safefs import display
    return StoreError(f'refusing source snapshot entry {display(path)}: {why}',
                      'the run store was tampered with or damaged')


def check_path(path):
    """Refuse what could land outside the tree or inside git's own folder."""
    if not path or '\0' in path or path.startswith('/'):
        raise _refuse(path, 'not a plain relative path')
    try:  # only surrogateescape bytes are names; a lone \ud800 is not
        os.fsencode(path)
    except UnicodeEncodeError:
        raise _refuse(path, 'not a file name (invalid Unicode)') from None
    for part in path.split('/'):
        if part in ('', '.', '..'):
            raise _refuse(path, 'not a plain relative path')
        if part.lower() == '.git':
            raise _refuse(path, 'inside a .git folder')


def check_files(files):
    """``files`` as [(path, mode, oid)…] if every entry is safe to write (pure).

    Refused: malformed entries, unknown modes, ids that are not 40 hex digits,
    unsafe paths, duplicates, and any entry below another (non-folder) entry.
    """
    if not isinstance(files, (list, tuple)):
        raise StoreError('the source snapshot file list is not a list',
                         'the run store was tampered with or damaged')
    out, seen = [], set()
    for entry in files:
        if not (isinstance(entry, (list, tuple)) and len(entry) == 3
                and all(isinstance(x, str) for x in entry)):
            raise _refuse(repr(entry)[:80], 'not a [path, mode, id] entry')
        path, mode, oid = entry
        check_path(path)
        if mode not in MODES:
            raise _refuse(path, f'unknown mode {mode[:10]!r}')
        if len(oid) != 40 or not _HEX.issuperset(oid):
            raise _refuse(path, 'not a git object id')
        if path in seen:
            raise _refuse(path, 'listed twice')
        seen.add(path)
        out.append((path, mode, oid))
    for path, _mode, _oid in out:  # every listed path is a file, link or submodule
        parts = path.split('/')
        for i in range(1, len(parts)):
            if '/'.join(parts[:i]) in seen:
                raise _refuse(path, f'below the non-folder entry {"/".join(parts[:i])}')
    return out


def export(store, files, dest):
    """Write checked ``files`` from ``store`` into the fresh, empty folder ``dest``.

    DamagedObjectError (with ``.path``) if a blob fails its id check.
    """
    files = check_files(files)
    names, fds = [], [os.open(dest, _DIR)]
    try:
        for path, mode, oid in sorted(files, key=lambda f: os.fsencode(f[0])):
            *dirs, name = path.split('/')
            _enter(names, fds, dirs)
            try:
                if mode == '120000':
                    os.symlink(os.fsdecode(link_target(store, oid)), name, dir_fd=fds[-1])
                elif mode != '160000':  # submodules: never stored (see gitsource)
                    _write_file(store, oid, mode, name, fds[-1])
            except DamagedObjectError as exc:
                exc.path = path
                raise
    finally:
        for fd in fds:
            os.close(fd)


def _enter(names, fds, dirs):
    """Make ``fds[-1]`` the folder ``dirs``, reusing the open prefix."""
    keep = 0
    while keep < min(len(names), len(dirs)) and names[keep] == dirs[keep]:
        keep += 1
    while len(names) > keep:
        names.pop()
        os.close(fds.pop())
    for part in dirs[keep:]:
        try:
            os.mkdir(part, 0o755, dir_fd=fds[-1])
        except FileExistsError:
            pass  # made for an earlier entry; O_NOFOLLOW refuses it were it a link
        fds.append(os.open(part, _DIR, dir_fd=fds[-1]))
        names.append(part)


def _write_file(store, oid, mode, name, dir_fd):
    try:
        chunks = store.object_chunks(oid)
    except FileNotFoundError:
        raise StoreError(f'source blob {oid[:12]} is missing from the run store',
                         'run again: the next snapshot stores it afresh') from None
    fd = os.open(name, _NEW, 0o600, dir_fd=dir_fd)
    with open(fd, 'wb') as f:
        for block in chunks:
            f.write(block)
        os.fchmod(f.fileno(), 0o755 if mode == '100755' else 0o644)


def link_target(store, oid):
    """A link's target bytes, checked: short and free of NUL."""
    size = store.object_size(oid)
    if size is not None and size > MAX_LINK:
        raise StoreError(f'a link target in the run store is {size} bytes long',
                         'the run store was tampered with or damaged')
    try:
        data = store.read_object(oid)
    except FileNotFoundError:
        raise StoreError(f'link blob {oid[:12]} is missing from the run store',
                         'run again: the next snapshot stores it afresh') from None
    if b'\0' in data or not data:
        raise StoreError('a link target in the run store is empty or holds NUL',
                         'the run store was tampered with or damaged')
    return data


def blob_id(data):
    """git's id of a blob with this content (pure)."""
    return hashlib.sha1(b'blob %d\0' % len(data) + data).hexdigest()


def tree_id(files):
    """git's id of the tree holding ``files`` [(path, mode, oid)] (pure)."""
    root = {}
    for path, mode, oid in files:
        *dirs, name = os.fsencode(path).split(b'/')
        node = root
        for d in dirs:
            node = node.setdefault(d + b'/', {})
        node[name] = (mode, oid)

    def write(node):
        entries = []
        for key, value in node.items():
            if isinstance(value, dict):
                entries.append((key, b'40000 ' + key[:-1] + b'\0'
                                + bytes.fromhex(write(value))))
            else:
                mode, oid = value
                entries.append((key, mode.lstrip('0').encode() + b' ' + key + b'\0'
                                + bytes.fromhex(oid)))
        body = b''.join(e for _, e in sorted(entries))
        return hashlib.sha1(b'tree %d\0' % len(body) + body).hexdigest()
    return write(root)
