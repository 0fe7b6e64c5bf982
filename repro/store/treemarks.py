"""Remembers, on this machine, that an exported source tree was verified.

Re-hashing ``<store>/src/<tree>`` before every use (every array task of a
sweep, every run) costs as much as reading the tree. Instead, after a full
check, the tree's stat signature is kept in a private folder of this
machine (``$TMPDIR/repro-<uid>-verified``, mode 0700, never in the store):
every entry's inode, mode, size, mtime and ctime. A later use walks the tree
with ``lstat`` only and trusts it if the signature is the same.

Why this cannot be fooled cheaply: any write, rename, chmod or replacement
of a file changes its ctime (and a replaced file or folder changes its
parent folder's), and no user can set a ctime back (that takes changing the
system clock, as root). As in git's "racy git" rule, a tree whose newest
ctime is less than ``RACY_SECONDS`` old is not remembered (an edit within
the same clock tick as the last change would keep the ctime), so it is
checked in full again next time. A marker that cannot be read, or a private
folder that is not ours alone, just means a full check.
"""
import contextlib
import hashlib
import os
import stat
import tempfile
import time

RACY_SECONDS = 2


def signature(root):
    """(digest of every entry's stat under ``root``, root included, links
    not followed; newest ctime in seconds), or None if it cannot be walked."""
    digest, newest, todo = hashlib.sha256(), 0, [('', root)]
    try:
        st = os.lstat(root)
        if not stat.S_ISDIR(st.st_mode):
            return None
        rows = [('.', st)]
        while todo:
            prefix, folder = todo.pop()
            with os.scandir(folder) as it:
                for entry in it:
                    st = entry.stat(follow_symlinks=False)
                    rows.append((prefix + entry.name, st))
                    if stat.S_ISDIR(st.st_mode):
                        todo.append((prefix + entry.name + '/', entry.path))
    except OSError:
        return None
    for rel, st in sorted(rows, key=lambda row: row[0]):
        digest.update(repr((rel, st.st_dev, st.st_ino, st.st_mode, st.st_nlink, st.st_uid,
                            st.st_size, st.st_mtime_ns, st.st_ctime_ns)).encode('utf-8',
                                                                             'surrogateescape'))
        newest = max(newest, st.st_ctime_ns)
    return digest.hexdigest(), newest / 1e9


def unchanged(root, tree):
    """True if ``root`` (an export of ``tree``) is as it was when
    :func:`remember` last saw it verified on this machine."""
    path = _marker(root, tree)
    if path is None:
        return False
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        with open(fd, encoding='ascii') as f:
            kept = f.read(100)
    except (OSError, UnicodeDecodeError):
        return False
    now = signature(root)
    return now is not None and kept == now[0]


def remember(root, tree, before):
    """Keep ``root``'s signature as verified, if it is the ``before`` one
    (taken before the full check: nothing changed during it) and not racy."""
    after = signature(root)
    path = _marker(root, tree)
    if path is None or before is None or after != before \
            or after[1] > time.time() - RACY_SECONDS:
        return
    with contextlib.suppress(OSError):
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix='.tmp-')
        with open(fd, 'w', encoding='ascii') as f:
            f.write(after[0])
        os.replace(tmp, path)


def _marker(root, tree):
    """This machine's marker file for export ``root`` of ``tree``, or None
    when the private folder is unusable."""
    folder = os.path.join(tempfile.gettempdir(), f'repro-{os.getuid()}-verified')
    try:
        with contextlib.suppress(FileExistsError):
            os.mkdir(folder, 0o700)
        st = os.lstat(folder)
    except OSError:
        return None
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077:
        return None  # someone else's, or open to others: never trust what is in it
    name = hashlib.sha256(f'{os.path.abspath(root)}\0{tree}'.encode('utf-8',
                                                                   'surrogateescape')).hexdigest()
    return os.path.join(folder, name[:40])
