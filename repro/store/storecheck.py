"""``repro verify --store``: every object of the run store against its id.

Reports, repairs nothing: a pack entry out of range or not matching its id,
a loose object that does not hash to its name, a tree listing that does not
parse, is unsafe, or does not hash to its tree. Nothing is followed through
a link. Problems are one line each, names escaped.
"""
import json
import os
import re

from repro.store import packs

from repro.core import safefs
from repro.errors import StoreError, UntrustedFileError


def check_store(store):
    """(problems, counts) of ``store``; counts: packs, blobs, objects, trees."""
    problems, counts = [], dict.fromkeys(('packs', 'blobs', 'objects', 'trees'), 0)
    for part in ('packs', 'objects', 'trees', 'src', 'runs'):
        try:
            store.subdir(part)
        except StoreError as exc:
            problems.append(exc.message)
    if not problems:
        _packs(store.packs_dir, problems, counts)
        _objects(store.root, problems, counts)
        _trees(store, problems, counts)
    return problems, counts


def _packs(packs_dir, problems, counts):
    for name in packs.index_names(packs_dir):
        pack = name[:-len('.idx')] + '.pack'
        counts['packs'] += 1
        try:
            entries = json.loads(safefs.read_bytes(packs_dir, name, packs.MAX_INDEX))
            if not isinstance(entries, dict):
                raise ValueError('not an object')
            f = safefs.open_regular(packs_dir, pack)
        except (ValueError, UntrustedFileError) as exc:
            problems.append(f'packs/{safefs.display(name)}: unreadable pack or index '
                            f'({getattr(exc, "message", exc)})')
            continue
        with f:
            size_on_disk = os.fstat(f.fileno()).st_size
            for oid, loc in entries.items():
                counts['blobs'] += 1
                entry = packs._entry(oid, loc)
                if entry is None or entry[0] + entry[1] > size_on_disk:
                    problems.append(f'packs/{safefs.display(name)}: entry {safefs.display(oid)[:64]} is '
                                    'malformed or reaches past the end of the pack')
                    continue
                f.seek(entry[0])
                digest = packs.hasher(oid, entry[1])
                left = entry[1]
                while left and (block := f.read(min(packs.CHUNK, left))):
                    digest.update(block)
                    left -= len(block)
                if digest.hexdigest() != oid:
                    problems.append(f'packs/{safefs.display(name)}: blob {oid} does not match its id')


def _objects(root, problems, counts):
    objects = os.path.join(root, 'objects')
    if not os.path.isdir(objects):
        return
    for entry in safefs.walk(objects, onerror=lambda rel: problems.append(
            f'objects/{safefs.display(rel)}: unreadable')):
        where = f'objects/{safefs.display(entry.rel)}'
        oid = entry.rel.replace('/', '')
        counts['objects'] += 1
        if entry.kind != 'file' or not re.fullmatch(r'[0-9a-f]{2}/[0-9a-f]{38}([0-9a-f]{24})?',
                                                    entry.rel):
            problems.append(f'{where}: not an object (a {entry.kind} or a stray name)')
            continue
        digest = packs.hasher(oid, entry.size)
        with safefs.open_regular(objects, entry.rel) as f:
            while block := f.read(packs.CHUNK):
                digest.update(block)
        if digest.hexdigest() != oid:
            problems.append(f'{where}: does not match its id')


def _trees(store, problems, counts):
    from repro.store.treesafe import tree_id
    trees = os.path.join(store.root, 'trees')
    names = sorted(os.listdir(trees)) if os.path.isdir(trees) else []
    for name in names:
        counts['trees'] += 1
        tree = name[:-len('.json')]
        if not re.fullmatch(r'[0-9a-f]{40}\.json', name):
            problems.append(f'trees/{safefs.display(name)}: not a tree listing name')
            continue
        try:
            files = store.get_tree(tree)
        except StoreError as exc:
            problems.append(f'trees/{name}: {exc.message}')
            continue
        if tree_id(files) != tree:
            problems.append(f'trees/{name}: the listing does not hash to tree {tree}')
