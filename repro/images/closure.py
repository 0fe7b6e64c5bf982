"""The runtime closure: the part of repro that runs inside a run image.

A run image holds only these files: the library (``repro.experiment``,
``repro.sampler``, ``repro.log``), the entry point ``python -m repro.runtime``
and the in-image comparison ``python -m repro.contentcheck``, with what they
import. Only they are hashed into the image key, so an edit to the CLI, the
engine or the builder changes no image ID. The package version is not among
them: ``repro/_version.py`` is host-only and the image gets one derived from
the closure, so an upgrade that leaves these files alone leaves every image
alone. ``tests/unit/core/test_closure.py`` proves the set closed under imports
and free of host-only modules.

A run keeps its closure in the run store by content (a listing object plus
one blob per file), so a replay after an upgrade rebuilds the image from the
files that made it, not from the repro installed now.
"""
import hashlib
import json
import os
import re

from repro.errors import BuildError, StoreError

PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # repro/
# The library, the code shared with the host (core/), and the two entry points.
# The entry points stay at repro/'s top level for good: the host starts them by
# module name in images built by any version of repro.
PACKAGES = ('experiment', 'log', 'sampler', 'core')  # every module in them
MODULES = ('__init__.py', 'contentcheck.py', 'contract.py', 'errors.py', 'runtime.py')
VERSION_FILE = '_version.py'  # host-only; the image's own is generated (layer_files)
_NAME = re.compile(r'[A-Za-z_][A-Za-z0-9_]*')


def runtime_files(package_dir=PACKAGE_DIR):
    """The closure's files as (path relative to repro/, bytes), sorted."""
    rels = list(MODULES)
    for package in PACKAGES:
        for name in os.listdir(os.path.join(package_dir, package)):
            if name.endswith('.py'):
                rels.append(f'{package}/{name}')
    files = []
    for rel in sorted(rels):
        try:
            with open(os.path.join(package_dir, rel), 'rb') as f:
                files.append((rel, f.read()))
        except OSError as exc:
            raise BuildError(f'repro is incomplete: {rel} cannot be read ({exc.strerror})',
                             'reinstall repro') from None
    return tuple(files)


def listing(files):
    """The canonical listing of ``files``: JSON of sorted [path, sha256] pairs."""
    pairs = sorted([rel, hashlib.sha256(data).hexdigest()] for rel, data in files)
    return json.dumps({'format': 1, 'files': pairs}, separators=(',', ':')).encode()


def closure_id(files):
    """The closure's identity: the sha256 of its listing."""
    return hashlib.sha256(listing(files)).hexdigest()


def layer_files(files):
    """What goes into the image: the closure plus its generated version file."""
    version = f"__version__ = '0+closure.{closure_id(files)[:12]}'\n"
    return tuple(sorted((*files, (VERSION_FILE, version.encode()))))


def keep(store, files):
    """Store the closure by content (its blobs, then its listing); its id."""
    for _rel, data in files:
        store.put_object(hashlib.sha256(data).hexdigest(), data)
    text = listing(files)
    oid = hashlib.sha256(text).hexdigest()
    store.put_object(oid, text)
    return oid


def load(store, oid):
    """The closure stored under ``oid``, every blob checked; StoreError else.

    The store is untrusted: paths must be plain module paths inside repro/
    (they become files of the image), and every byte must match its hash.
    """
    text = _object(store, oid, f'runtime closure {oid[:12]}')
    try:
        data = json.loads(text.decode('utf-8'))
        pairs = data['files'] if data.get('format') == 1 else None
        files = tuple((rel, _object(store, sha, rel)) for rel, sha in _checked(pairs))
    except (ValueError, TypeError, KeyError, AttributeError):
        raise StoreError(f'runtime closure {oid[:12]} in the run store is malformed') from None
    if listing(files) != text:
        raise StoreError(f'runtime closure {oid[:12]} in the run store is not canonical')
    return files


def _checked(pairs):
    if not isinstance(pairs, list):
        raise ValueError(pairs)
    for rel, sha in pairs:
        parts = rel.split('/') if isinstance(rel, str) else ()
        if not (rel.endswith('.py') and rel != VERSION_FILE and 0 < len(parts) <= 2
                and all(_NAME.fullmatch(p.removesuffix('.py')) for p in parts)):
            raise ValueError(rel)
        yield rel, sha


def _object(store, sha, name):
    try:
        data = store.read_object(sha)
    except (FileNotFoundError, StoreError):
        raise StoreError(f'{name} of the run is missing from the run store',
                         'its image cannot be rebuilt; keep the store with the run') from None
    if hashlib.sha256(data).hexdigest() != sha:
        raise StoreError(f'{name} in the run store does not match its hash')
    return data
