"""Source trees exported from the run store for a container's ``/src``.

``<store>/src/<tree>`` is exported once per tree, but anyone who can edit
the store can edit it, and a container runs it. So it is re-verified before
each use and exported afresh unless it holds exactly the snapshot: walked
with lstat and every file re-hashed (about 0.3 s for 10,000 files / 200 MB)
the first time on a machine, then only walked with lstat while its stat
signature is the one this machine verified (:mod:`repro.store.treemarks`).
"""
import os
import shutil
import stat
import tempfile

from repro.errors import StoreError
from repro.store import treemarks
from repro.store.packs import CHUNK, DamagedObjectError, hasher

_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


def export_files(store, tree, files):
    """The snapshot's files under ``<store>/src/<tree>``, verified."""
    from repro.store.objectstore import _tree_name
    from repro.store.treesafe import check_files
    files = check_files(files)
    src = store.subdir('src', create=True)
    dest = os.path.join(src, _tree_name(tree))
    if os.path.lexists(dest):
        if treemarks.unchanged(dest, tree):
            return dest
        before = treemarks.signature(dest)
        if matches(store, files, dest):
            treemarks.remember(dest, tree, before)
            return dest
        _remove(dest)  # edited, or half gone: never run it
    tmp = _export_healing(store, files, src)
    try:
        os.rename(tmp, dest)
    except OSError:  # another run exported the same tree first
        shutil.rmtree(tmp, ignore_errors=True)
        if not matches(store, files, dest):
            raise StoreError(f'the exported source tree {dest} changed while it was made',
                             'run again') from None
    return dest


def _export_healing(store, files, src, tries=3):
    """A fresh temporary export; a damaged blob is stored again from the
    snapshot's working tree (``store.blob_sources``) and the export retried."""
    from repro.core.safefs import display
    from repro.store.treesafe import export
    for attempt in range(tries):
        tmp = tempfile.mkdtemp(prefix='.tmp-', dir=src)
        try:
            export(store, files, tmp)
            return tmp
        except DamagedObjectError as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            if attempt == tries - 1 or store.restore([exc.oid]):
                raise StoreError(f'source file {display(getattr(exc, "path", exc.oid))} in '
                                 'the run store was damaged (it did not match its git id) '
                                 'and has been dropped from the store',
                                 'run again: the next snapshot stores it afresh') from None
        except BaseException as exc:  # nothing half-exported stays behind
            shutil.rmtree(tmp, ignore_errors=True)
            if isinstance(exc, FileNotFoundError) and str(exc.filename).startswith(
                    os.path.join(store.root, 'objects', '')):  # a blob the store lacks
                raise StoreError('a source file of the snapshot is missing from the run '
                                 f'store {store.root}') from None
            if isinstance(exc, OSError):
                raise StoreError(f'cannot write the source snapshot into {store.root}: '
                                 f'{exc.strerror}', 'free some space or set REPRO_HOME') \
                    from None
            raise


def _remove(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)  # fd-based on Linux: never follows a link inside
    else:
        os.unlink(path)


def matches(store, files, root):
    """Whether ``root`` holds exactly ``files`` (checked), same kinds, exec
    bits, link targets and contents, found without following any link."""
    expected, dirs = {}, set()
    for path, mode, oid in files:
        parts = path.split('/')
        dirs.update('/'.join(parts[:i]) for i in range(1, len(parts)))
        if mode != '160000':
            expected[path] = (mode, oid)
    try:
        if not stat.S_ISDIR(os.lstat(root).st_mode):
            return False
        found, todo = 0, [('', root)]
        while todo:
            prefix, folder = todo.pop()
            with os.scandir(folder) as it:
                for entry in it:
                    rel = prefix + entry.name
                    st = entry.stat(follow_symlinks=False)
                    if stat.S_ISDIR(st.st_mode) and rel in dirs:
                        todo.append((rel + '/', entry.path))
                        continue
                    if rel not in expected or not _same(store, entry.path, st,
                                                        *expected[rel]):
                        return False
                    found += 1
    except (OSError, StoreError):
        return False
    return found == len(expected)


def _same(store, path, st, mode, oid):
    from repro.store.treesafe import link_target
    if mode == '120000':
        return stat.S_ISLNK(st.st_mode) and \
            os.fsencode(os.readlink(path)) == link_target(store, oid)
    if not stat.S_ISREG(st.st_mode) or st.st_nlink != 1 \
            or bool(st.st_mode & 0o100) != (mode == '100755'):
        return False  # a hard link could reach a file outside the store
    size = store.object_size(oid)
    if size is not None and size != st.st_size:
        return False
    digest = hasher(oid, st.st_size)
    fd = os.open(path, _READ)
    with open(fd, 'rb') as f:
        if os.fstat(fd).st_ino != st.st_ino:
            return False
        while block := f.read(CHUNK):
            digest.update(block)
    return digest.hexdigest() == oid
