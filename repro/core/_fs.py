"""Small filesystem helpers shared by the library: atomic writes and JSON."""
import contextlib
import json
import os
import tempfile

_UMASK = os.umask(0)
os.umask(_UMASK)


def open_temp_beside(path, mode='wb'):
    """A new hidden temporary file in *path*'s directory: ``(file, its path)``.

    Same directory, so ``os.replace`` onto *path* is an atomic rename.
    """
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix='.' + os.path.basename(path) + '.',
                               suffix='.tmp', dir=directory)
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; use normal perms
        return os.fdopen(fd, mode), tmp
    except BaseException:
        os.close(fd)
        os.unlink(tmp)
        raise


def copy_file(source, target, size=None):
    """Copy ``source`` (its first ``size`` bytes, if given) to ``target``
    through a temporary file: ``target`` is never seen half-written."""
    out, tmp = open_temp_beside(target)
    try:
        with out, open(source, 'rb') as src:
            while size is None or size > 0:
                chunk = src.read(1 << 20 if size is None else min(size, 1 << 20))
                if not chunk:
                    if size:
                        raise ValueError(f'{source} is shorter than {size} bytes')
                    break
                out.write(chunk)
                size = None if size is None else size - len(chunk)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def fsync_dir(directory):
    """Make renames and new names in *directory* durable."""
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


@contextlib.contextmanager
def atomic_writer(path, mode='wb', fsync=True):
    """Open a temporary file beside *path*; on success move it over *path*.

    Readers see either the old file or the complete new one, never a
    truncated one, even if the process dies mid-write. ``fsync`` also makes
    the new content survive a power loss before the rename is visible.
    """
    f, tmp = open_temp_beside(path, mode)
    try:
        with f:
            yield f
            f.flush()
            if fsync:
                os.fsync(f.fileno())
        os.replace(tmp, path)
        if fsync:  # make the rename itself durable too
            fsync_dir(os.path.dirname(os.path.abspath(path)))
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def to_jsonable(obj):
    """``json`` fallback: readable stand-ins for values JSON cannot hold."""
    if hasattr(obj, 'item') and callable(obj.item) and getattr(obj, 'ndim', 1) == 0:
        return obj.item()  # numpy / torch scalars
    if hasattr(obj, 'tolist'):
        return obj.tolist()
    if isinstance(obj, (set, frozenset)):
        return sorted(obj, key=repr)
    if isinstance(obj, type) or callable(obj):
        return f'{getattr(obj, "__module__", "?")}.{getattr(obj, "__qualname__", repr(obj))}'
    return repr(obj)


def to_plain(obj):
    """Any value as strict JSON data: string keys, no NaN/Infinity."""
    if isinstance(obj, float):
        if obj != obj or obj in (float('inf'), float('-inf')):
            return repr(obj)  # 'nan', 'inf', '-inf'
        return obj
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj
    if isinstance(obj, dict):
        return {k if isinstance(k, str) else repr(k): to_plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_plain(v) for v in obj]
    plain = to_jsonable(obj)
    return plain if isinstance(plain, str) else to_plain(plain)


def dump_json(path, data):
    """Write *data* as indented, key-sorted, strict JSON, atomically."""
    text = json.dumps(to_plain(data), indent=2, sort_keys=True, allow_nan=False)
    with atomic_writer(path, 'w', fsync=False) as f:
        f.write(text + '\n')
