"""The wheelhouse: every locked wheel, verified by hash, cached by content.

Wheels are downloaded on the host (where pip's own configuration reaches
the index) with ``--require-hashes`` and kept under
``<cache>/wheels/<sha256>/<file name>``; a later build downloads only what
the cache lacks, and the image is built with networking off from them.
"""
import contextlib
import hashlib
import os
import re
import shutil
import sys
import tempfile

from repro.errors import LockError
from repro.record.tools import run_tool

_REQ = re.compile(r'^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)')
_HASH = re.compile(r'--hash=sha256:([0-9a-f]{64})')


def parse_lock(text):
    """``[(name, version, {sha256, …}, requirement text)]`` from a hashed lock."""
    entries, current = [], None
    for raw in text.splitlines():
        line = raw.split('#', 1)[0].rstrip()
        if not line.strip():
            continue
        match = _REQ.match(line.strip())
        if match and not raw.startswith((' ', '\t')):
            current = [match.group(1), match.group(2), set(), line.rstrip(' \\')]
            entries.append(current)
        if current is not None:
            current[2].update(_HASH.findall(line))
    for name, _version, hashes, _ in entries:
        if not hashes:
            raise LockError(f'{name} has no --hash in the lock', 'run `repro lock`')
    return [tuple(e) for e in entries]


def default_cache():
    return os.environ.get('REPRO_CACHE') or os.path.join(
        os.path.expanduser('~'), '.cache', 'repro')


class Wheelhouse:
    """Content-addressed wheel cache."""

    def __init__(self, cache_dir=None):
        self.root = os.path.join(cache_dir or default_cache(), 'wheels')

    def find(self, hashes):
        """Path of a cached wheel with one of ``hashes``, or None."""
        for sha in sorted(hashes):
            folder = os.path.join(self.root, sha)
            if os.path.isdir(folder):
                names = [n for n in os.listdir(folder) if n.endswith('.whl')]
                if names:  # its time says when it was used last (repro gc keeps those)
                    with contextlib.suppress(OSError):
                        os.utime(folder)
                    return os.path.join(folder, names[0])
        return None

    def add(self, path, allowed):
        """Move a downloaded file in, keyed by its sha256 (must be allowed)."""
        with open(path, 'rb') as f:
            sha = hashlib.sha256(f.read()).hexdigest()
        if sha not in allowed:
            raise LockError(f'{os.path.basename(path)} does not match the lock\'s hashes')
        folder = os.path.join(self.root, sha)
        os.makedirs(folder, exist_ok=True)
        target = os.path.join(folder, os.path.basename(path))
        os.replace(path, target)
        return target

    def ensure(self, lock_text, progress=print):
        """Paths of every locked wheel, downloading the missing ones.

        Returns (paths, number downloaded).
        """
        entries = parse_lock(lock_text)
        missing = [e for e in entries if self.find(e[2]) is None]
        if missing:
            progress(f'downloading {len(missing)} of {len(entries)} wheels ...')
            self._download(missing)
        paths = []
        for name, version, hashes, _ in entries:
            path = self.find(hashes)
            if path is None:
                raise LockError(f'no wheel for {name}=={version} was downloaded',
                                'only binary wheels can be installed offline')
            paths.append(path)
        return paths, len(missing)

    def _download(self, entries):
        os.makedirs(self.root, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix='repro-dl-', dir=self.root) as tmp:
            req = os.path.join(tmp, 'requirements.txt')
            with open(req, 'w', encoding='utf-8') as f:
                for _name, _version, hashes, requirement in entries:
                    f.write(requirement + ''.join(f' --hash=sha256:{h}' for h in sorted(hashes))
                            + '\n')
            out = os.path.join(tmp, 'out')
            cmd = [sys.executable, '-m', 'pip', 'download', '--quiet', '--no-deps',
                   '--only-binary=:all:', '--require-hashes', '-d', out, '-r', req]
            run_tool(cmd, error=LockError, what='pip download')
            allowed = set().union(*(e[2] for e in entries))
            for name in sorted(os.listdir(out)):
                self.add(os.path.join(out, name), allowed)


def link_wheelhouse(paths, dest):
    """A flat directory of the given wheels (hard links when possible)."""
    os.makedirs(dest, exist_ok=True)
    for path in paths:
        target = os.path.join(dest, os.path.basename(path))
        try:
            os.link(path, target)
        except OSError:
            shutil.copyfile(path, target)
    return dest
