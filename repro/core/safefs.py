"""The one way the host touches run directories, container outputs and the store.

Everything under a run directory may have been written by the container (a
launcher repro does not trust) or by whoever handed over a store. So reads
here never follow links (``O_NOFOLLOW`` on every component, ``lstat`` when
walking), accept only regular files (a FIFO would block, a device could be
anything), cap the size of what they parse, and never crash on names that
are not UTF-8: names are ``str`` decoded with ``surrogateescape`` (so they
round-trip to the original bytes) and :func:`display` escapes them for text.
"""
import contextlib
import dataclasses
import hashlib
import json
import os
import stat

from repro.errors import UntrustedFileError

MAX_JSON = 16 << 20      # a manifest or a record: far above any real one
MAX_TABLE = 256 << 20    # a progress.csv parsed into memory
_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, 'O_CLOEXEC', 0)
_DIR_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_DIRECTORY | getattr(os, 'O_CLOEXEC', 0)
_KINDS = ((stat.S_ISREG, 'file'), (stat.S_ISDIR, 'dir'), (stat.S_ISLNK, 'link'),
          (stat.S_ISFIFO, 'fifo'), (stat.S_ISSOCK, 'socket'), (stat.S_ISCHR, 'device'),
          (stat.S_ISBLK, 'device'))


def kind_of(mode):
    """'file', 'dir', 'link', 'fifo', 'socket', 'device' or 'other' (pure)."""
    return next((name for test, name in _KINDS if test(mode)), 'other')


def display(name):
    """``name`` safe to print on one line: undecodable bytes as ``\\xNN``,
    control and bidi-override characters escaped (pure)."""
    out = []
    for ch in str(name):
        code = ord(ch)
        if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape)
            out.append(f'\\x{code - 0xDC00:02x}')
        elif code < 0x20 or 0x7F <= code < 0xA0 or 0x202A <= code <= 0x202E \
                or 0x2066 <= code <= 0x2069 or 0xD800 <= code <= 0xDFFF:
            out.append(ch.encode('unicode_escape', 'backslashreplace').decode('ascii')
                       if code < 0xD800 else f'\\u{code:04x}')
        elif ch == '\\':
            out.append('\\\\')
        else:
            out.append(ch)
    return ''.join(out)


def printable(text):
    """``text`` with control, bidi-override and undecodable characters
    escaped, but tabs and backslashes kept: for code and other multi-line
    text a person reads (a diff), not for names that must round-trip (pure)."""
    return '\t'.join(display(part).replace('\\\\', '\\') for part in str(text).split('\t'))


def is_utf8(name):
    """Whether a walked name is valid text (no undecodable bytes) (pure)."""
    try:
        name.encode('utf-8')
    except UnicodeEncodeError:
        return False
    return True


def check_relative(rel):
    """``rel`` if it is a plain relative path inside its root, else an error.

    Refused: absolute paths, ``..``/``.``/empty components, NUL.
    """
    if not isinstance(rel, str) or not rel or '\0' in rel or rel.startswith('/') \
            or any(part in ('', '.', '..') for part in rel.split('/')):
        raise UntrustedFileError(f'refusing path {display(rel)}: not a plain relative path')
    return rel


def _open_parent(root, rel):
    """An fd of ``rel``'s directory, opened component by component, no links."""
    parts = check_relative(rel).split('/')
    fd = os.open(root, _DIR_FLAGS)
    try:
        for part in parts[:-1]:
            nxt = os.open(part, _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = nxt
    except OSError:
        os.close(fd)
        raise
    return fd, parts[-1]


def open_regular(root, rel, limit=None):
    """A binary file object for regular file ``root/rel``, never through a link.

    UntrustedFileError when it is a link, FIFO, device or directory (or has
    one on the way), is missing, or is larger than ``limit`` bytes.
    """
    where = display(rel)
    try:
        dir_fd, name = _open_parent(root, rel)
        try:
            fd = os.open(name, _FLAGS, dir_fd=dir_fd)
        finally:
            os.close(dir_fd)
    except FileNotFoundError:
        raise UntrustedFileError(f'{where} is missing') from None
    except OSError as exc:  # ELOOP / ENOTDIR: a link or a non-directory on the way
        raise UntrustedFileError(f'{where} is not a regular file reachable without '
                                 f'following links ({exc.strerror})') from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise UntrustedFileError(f'{where} is a {kind_of(st.st_mode)}, not a regular file')
    if limit is not None and st.st_size > limit:
        os.close(fd)
        raise UntrustedFileError(f'{where} is too large to read ({st.st_size} bytes, '
                                 f'limit {limit})')
    os.set_blocking(fd, True)
    return os.fdopen(fd, 'rb')


def read_bytes(root, rel, limit):
    with open_regular(root, rel, limit) as f:
        data = f.read(limit + 1)
    if len(data) > limit:  # grew while we read it
        raise UntrustedFileError(f'{display(rel)} is too large to read (limit {limit})')
    return data


def read_text(root, rel, limit=MAX_TABLE):
    """UTF-8 text of a regular file; binary content is a one-line error."""
    try:
        return read_bytes(root, rel, limit).decode('utf-8')
    except UnicodeDecodeError as exc:
        raise UntrustedFileError(f'{display(rel)} is not UTF-8 text (byte {exc.start})') \
            from None


def read_json(root, rel, limit=MAX_JSON):
    """Parsed JSON of a regular file (strict: no NaN), or a one-line error."""
    text = read_text(root, rel, limit)
    try:
        return json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        raise UntrustedFileError(f'{display(rel)} is not valid JSON '
                                 f'({getattr(exc, "msg", exc)})') from None


def _no_constant(name):
    raise ValueError(f'{name} is not JSON')


def sha256_of(root, rel, chunk=1 << 20):
    """(size, sha256) of a regular file, streamed, never through a link."""
    digest, size = hashlib.sha256(), 0
    with open_regular(root, rel) as f:
        while block := f.read(chunk):
            digest.update(block)
            size += len(block)
    return size, digest.hexdigest()


@dataclasses.dataclass(frozen=True)
class Entry:
    """One thing found under a root: ``rel`` uses '/' and may hold escapes."""
    rel: str
    kind: str
    size: int = 0
    target: str = None  # a link's target string (never followed)
    mode: int = 0       # permission bits (setuid, world-writable are suspicious)


def walk(root, skip=lambda rel: False, onerror=None, dirs=False):
    """Every non-directory entry under ``root``, sorted, without following links.

    Directories are entered only when they are real directories (listed
    too when ``dirs``), with an explicit stack: a container can nest them
    deeper than Python's recursion limit. Entries for which ``skip(rel)``
    is true are left out; unreadable ones are passed to ``onerror(rel)``.
    """
    out, stack = [], [(root, '')]
    while stack:
        path, prefix = stack.pop()
        try:
            with os.scandir(path) as it:
                entries = list(it)
        except OSError:
            if onerror is not None:
                onerror(prefix.rstrip('/') or '.')
            continue
        for entry in entries:
            rel = prefix + entry.name
            if skip(rel):
                continue
            try:
                st = entry.stat(follow_symlinks=False)
                kind = kind_of(st.st_mode)
                target = os.readlink(entry.path) if kind == 'link' else None
            except OSError:
                if onerror is not None:
                    onerror(rel)
                continue
            if kind == 'dir':
                stack.append((entry.path, rel + '/'))
                if not dirs:
                    continue
            out.append(Entry(rel, kind, st.st_size if kind == 'file' else 0, target,
                             stat.S_IMODE(st.st_mode)))
    return sorted(out, key=lambda e: os.fsencode(e.rel))


def suspicious_mode(entry):
    """Why a file's mode is dangerous on the host, or None (pure): setuid or
    setgid, or writable by anyone."""
    if entry.kind == 'link':
        return None
    if entry.mode & (stat.S_ISUID | stat.S_ISGID):
        return 'setuid/setgid'
    if entry.mode & stat.S_IWOTH and not entry.mode & stat.S_ISVTX:
        return 'writable by anyone'
    return None


def drop_dangerous_modes(root):
    """Clear setuid/setgid and world-write bits under ``root`` (links are
    never touched); returns the escaped names changed.

    A container running as the invoking user can still set those bits on
    what it writes; left on the host, a setuid copy of a shell would be a
    gift to every other user. Call it once the container is gone.
    """
    changed = []
    for entry in walk(root, dirs=True):
        if suspicious_mode(entry):
            with contextlib.suppress(OSError):
                os.chmod(os.path.join(root, entry.rel),
                         entry.mode & ~(stat.S_ISUID | stat.S_ISGID | stat.S_IWOTH))
                changed.append(display(entry.rel))
    return changed


def regular_files(root):
    """Relative paths of the regular files under ``root`` (links etc. left out)."""
    return [e.rel for e in walk(root) if e.kind == 'file']
