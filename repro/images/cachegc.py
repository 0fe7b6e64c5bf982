"""The cache's sizes and garbage, and the images repro built.

The cache (``~/.cache/repro``, or ``$REPRO_CACHE``) holds the wheels, one
record per image key (the image ID repro made for it; its time is the last
use) and build folders. Only images this cache recorded are repro's to
remove: an image of the engine is someone else's unless a record here
names it. Wheels and records are touched when used, so the wheel cache is
trimmed least recently used first and ``--keep-images N`` keeps the
images used last.
"""
import contextlib
import os
import re
import shutil
import time

from repro.images.image import LABEL_KEY, dead_builds
from repro.store.gc import TEMP_AGE, size_of


def records(cache):
    """{image key: (image ID, time of last use)} of the cache's image records."""
    folder = os.path.join(cache, 'images')
    found = {}
    for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else ():
        if not re.fullmatch(r'[0-9a-f]{64}', name):
            continue
        path = os.path.join(folder, name)
        with contextlib.suppress(OSError, UnicodeDecodeError):
            with open(path, encoding='ascii') as f:
                found[name] = (f.read().strip(), os.stat(path).st_mtime)
    return found


def built_images(engine, cache, labelled=None):
    """The engine's images this cache recorded, newest use first: dicts with
    ``id``, ``key``, ``tags``, ``size`` and ``used`` (a time). ``labelled``:
    the engine's images with repro's key label, if listed already."""
    recorded = records(cache)
    images = []
    for image in engine.images(LABEL_KEY) if labelled is None else labelled:
        key = (image.get('Labels') or {}).get(LABEL_KEY)
        if key in recorded and recorded[key][0] == image.get('Id'):
            images.append({'id': image['Id'], 'key': key, 'size': image.get('Size') or 0,
                           'tags': [t for t in image.get('RepoTags') or () if t != '<none>:<none>'],
                           'used': recorded[key][1]})
    return sorted(images, key=lambda i: -i['used'])


def unused_images(images, refs, keep, now=None):
    """The images to remove: used by no kept run, sweep or starting run,
    beyond the ``keep`` used last, and not used within the hour (a run may
    be starting with it)."""
    now = time.time() if now is None else now
    unused = [i for i in images if i['id'] not in refs.images and i['key'] not in refs.keys]
    return [i for i in unused[keep:] if now - i['used'] >= TEMP_AGE]


def reclaimable(engine, labelled, removed):
    """Bytes that removing the images ``removed`` (IDs) frees: the sizes of
    their venv and repro layers (their last two) that no other image with
    repro's label holds. (Sizes docker reports count shared layers once per
    image: 60 images of one lock are not 60 venvs.)"""
    def chains(image_id):
        layers = list(engine.image_layers(image_id))
        return [tuple(layers[:i + 1]) for i in range(len(layers))]
    kept = {c for i in labelled if i['Id'] not in removed for c in chains(i['Id'])}
    freed, counted = 0, set()
    for image_id in removed:
        own = chains(image_id)[-2:]
        sizes = [h.get('Size') or 0 for h in engine.image_history(image_id)][:2][::-1]
        for chain, size in zip(own, sizes):
            if chain not in kept and chain not in counted:
                counted.add(chain)
                freed += size
    return freed


def usage(cache):
    """{category: (count, bytes)}: the wheel cache and the build cache."""
    wheels = _wheels(cache)
    build = [os.path.join(cache, n) for n in ('layers', 'locks', 'images')]
    build += [os.path.join(cache, n) for n in _names(cache) if n.startswith('repro-build-')]
    return {'wheel cache': (len(wheels), sum(size for _path, size, _t in wheels)),
            'build cache': (len(_names(os.path.join(cache, 'layers'))),
                            sum(size_of(p)[1] for p in build))}


def garbage(cache, max_wheel_bytes=None, now=None):
    """[(category, path, bytes)] to delete from the cache: the wheels beyond
    ``max_wheel_bytes`` (least recently used first), layer files older
    repro versions kept (builds now stream them), and what killed builds
    and downloads left."""
    now = time.time() if now is None else now
    found = []
    if max_wheel_bytes is not None:
        wheels = sorted(_wheels(cache), key=lambda w: w[2])
        total = sum(size for _path, size, _t in wheels)
        for path, size, _used in wheels:
            if total <= max_wheel_bytes:
                break
            found.append(('wheel cache', path, size))
            total -= size
    layers = os.path.join(cache, 'layers')
    for name in _names(layers):
        path = os.path.join(layers, name)
        old = name.startswith('base-') or name.endswith('.tar')
        temp = name.endswith('.partial') or name.startswith('.')
        if old or (temp and _age(path, now) >= TEMP_AGE):
            found.append(('build cache', path, size_of(path)[1]))
    temps = [os.path.join(cache, 'wheels', n) for n in _names(os.path.join(cache, 'wheels'))
             if n.startswith('repro-dl-')]
    temps += [os.path.join(cache, 'images', n) for n in _names(os.path.join(cache, 'images'))
              if n.startswith('.') and n.endswith('.tmp')]
    found += [('temporary files', p, size_of(p)[1]) for p in temps if _age(p, now) >= TEMP_AGE]
    found += [('temporary files', p, size_of(p)[1]) for p in dead_builds(cache, TEMP_AGE)]
    return found


def remove_images(engine, cache, images):
    """Remove ``images`` and their records; (the removed, errors one line each)."""
    from repro.errors import EngineError
    removed, errors = [], []
    for image in images:
        try:
            engine.remove_image(image['id'])
        except EngineError as exc:  # e.g. a container of it still runs
            errors.append(f'image {image["id"][:19]}: {exc.message}')
            continue
        removed.append(image)
        with contextlib.suppress(OSError):
            os.unlink(os.path.join(cache, 'images', image['key']))
    return removed, errors


def delete(items):
    """Delete cache ``items`` [(category, path, bytes)]; bytes freed."""
    freed = 0
    for _category, path, size in items:
        with contextlib.suppress(FileNotFoundError):
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.unlink(path)
            freed += size
    return freed


def _wheels(cache):
    """[(folder, bytes, time of last use)] of the cached wheels (one folder each)."""
    root = os.path.join(cache, 'wheels')
    found = []
    for name in _names(root):
        if re.fullmatch(r'[0-9a-f]{64}', name):
            path = os.path.join(root, name)
            with contextlib.suppress(OSError):
                found.append((path, size_of(path)[1], os.lstat(path).st_mtime))
    return found


def _names(folder):
    try:
        return sorted(os.listdir(folder))
    except OSError:
        return []


def _age(path, now):
    try:
        return now - os.lstat(path).st_mtime
    except OSError:
        return 0
