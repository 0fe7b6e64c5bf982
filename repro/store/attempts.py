"""Which runs are a sweep member's attempts, by member:
``<store>/sweeps/<SWEEP_ID>/attempts/<index>/<n>/<RUN_ID>``.

An array task asks about its own member only, so it reads one small folder
and the manifests of that member's attempts, however many runs the store
holds (a scan of every manifest newer than the sweep, in every task, made a
sweep cost O(members²) manifest reads).

Nodes write here at once, on storage that may be NFS, with no lock. Every
change is a ``rename`` of a new, non-empty folder onto a name, which POSIX
refuses when that name is a non-empty folder already, so of two writers
exactly one wins, and each learns which:

- a new attempt takes the lowest free number ``n`` (from the count it
  expects) by renaming ``.tmp-…/<RUN_ID>`` to ``<n>``; the loser tries n+1, so
  two tasks of one member never share a number;
- a stale ``running`` attempt is superseded only by the task that renames
  its claim to ``<n>/superseded``.

The index only says where to look: a run is an attempt only if its own
manifest says it is this member of this sweep (manifests are the truth).
An entry whose run has no manifest (its writer died first) is no attempt.
The store is untrusted: no link is followed, names are checked.
"""
import contextlib
import errno
import os
import re
import secrets
import shutil
import stat

from repro.errors import StoreError

ATTEMPTS = 'attempts'
SUPERSEDED = 'superseded'
_RUN_ID = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_.-]*$')
_TAKEN = (errno.EEXIST, errno.ENOTEMPTY, errno.ENOTDIR)


class AttemptIndex:
    """The attempt index of one sweep (``sweep_dir``: its checked folder)."""

    def __init__(self, sweep_dir):
        self.sweep_dir = sweep_dir

    def claim(self, index, run_id, first=1):
        """The number of run ``run_id`` as a new attempt of member ``index``:
        the lowest free one from ``first`` on, taken by rename."""
        member = self._member(index, create=True)
        n = max(first, max((n for n, _ in self._entries(member)), default=0) + 1)
        while not _rename_new(member, str(n), run_id):
            n += 1
        return n

    def runs(self, index):
        """``[(n, run id)]`` of member ``index``, by number."""
        member = self._member(index)
        if member is None:
            return []
        found = []
        for n, path in self._entries(member):
            ids = [name for name in _names(path) if name != SUPERSEDED and _RUN_ID.match(name)]
            if len(ids) == 1:
                found.append((n, ids[0]))
        return sorted(found)

    def claim_superseding(self, index, n):
        """True for exactly one caller per attempt ``n`` of member ``index``:
        the one that may mark it superseded."""
        member = self._member(index)
        return member is not None and _rename_new(os.path.join(member, str(n)), SUPERSEDED,
                                                  secrets.token_hex(8))

    def _member(self, index, create=False):
        """``attempts/<index>``, each part a real folder (made if ``create``),
        or None when it does not exist."""
        path = self.sweep_dir
        for part in (None, ATTEMPTS, str(int(index))):
            path = os.path.join(path, part) if part else path
            try:
                mode = os.lstat(path).st_mode
            except FileNotFoundError:
                if part and create:
                    with contextlib.suppress(FileExistsError):
                        os.mkdir(path)
                    mode = os.lstat(path).st_mode
                elif create:
                    raise StoreError(f'the sweep folder {path} is missing') from None
                else:
                    return None
            if not stat.S_ISDIR(mode):
                raise StoreError(f'{path} is not a folder (a link or a file); the run store '
                                 'was tampered with', 'remove it')
        return path

    @staticmethod
    def _entries(member):
        """``(n, path)`` of the numbered attempt folders (not links)."""
        found = []
        for name in _names(member):
            if name.isascii() and name.isdigit() and len(name) < 9:
                path = os.path.join(member, name)
                with contextlib.suppress(OSError):
                    if stat.S_ISDIR(os.lstat(path).st_mode):
                        found.append((int(name), path))
        return found


def _names(folder):
    try:
        return os.listdir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return []
    except OSError as exc:
        raise StoreError(f'cannot read {folder}: {exc.strerror}') from None


def _rename_new(parent, name, content):
    """Put a new folder holding the empty file ``content`` at ``parent/name``
    unless something is there; True if this call put it there."""
    tmp = os.path.join(parent, f'.tmp-{secrets.token_hex(8)}')
    try:
        os.mkdir(tmp)
        with open(os.path.join(tmp, content), 'x'):
            pass
        os.rename(tmp, os.path.join(parent, name))  # an empty folder there is replaced
        return True
    except OSError as exc:
        if exc.errno not in _TAKEN:
            shutil.rmtree(tmp, ignore_errors=True)
            raise StoreError(f'cannot record an attempt in {parent}: {exc.strerror}') from None
        # NFS may answer a retried rename that did happen with EEXIST: is it ours?
        ours = not os.path.lexists(tmp) and content in _names(os.path.join(parent, name))
        shutil.rmtree(tmp, ignore_errors=True)
        return ours
