"""Bit-reproducible image pieces, as pure functions over files and bytes.

``docker build`` stamps times into every layer and config, so the same
inputs never give the same image ID twice. Here a layer is a tar written by
us: entries sorted, owned by root, mtimes fixed; the image config has fixed
timestamps; both go into a ``docker load`` archive. The image ID is the
sha256 of the config, so it follows from the content alone.
"""
import hashlib
import io
import json
import os
import stat
import tarfile

EPOCH = 0  # every mtime and 'created' is 1970-01-01T00:00:00Z
CREATED = '1970-01-01T00:00:00Z'


def _sha256(data):
    return 'sha256:' + hashlib.sha256(data).hexdigest()


def layer_tar(root, out, exclude=()):
    """Write ``root``'s tree as a normalised layer tar to the file ``out``.

    ``exclude`` holds paths (relative to ``root``) whose contents are left
    out (the directory itself stays, e.g. ``proc``). Returns the layer's
    diff id (``sha256:…`` of the uncompressed tar).
    """
    excluded = {e.strip('/') for e in exclude}
    digest = hashlib.sha256()

    class _Hashing(io.RawIOBase):
        def writable(self):
            return True

        def write(self, data):
            digest.update(data)
            return out.write(data)

    with tarfile.open(fileobj=_Hashing(), mode='w|', format=tarfile.GNU_FORMAT) as tar:
        for rel in _walk(root, excluded):
            path = os.path.join(root, rel)
            info = tar.gettarinfo(path, arcname=rel)
            info.uid = info.gid = 0
            info.uname = info.gname = ''
            info.mtime = EPOCH
            if info.isreg():
                with open(path, 'rb') as f:
                    tar.addfile(info, f)
            elif info.isdir() or info.issym() or info.islnk() or info.ischr() \
                    or info.isblk() or info.isfifo():
                tar.addfile(info)
    return 'sha256:' + digest.hexdigest()


def _walk(root, excluded):
    """Relative paths under ``root`` in a fixed (sorted, depth-first) order."""
    def visit(rel):
        full = os.path.join(root, rel) if rel else root
        for name in sorted(os.listdir(full)):
            child = f'{rel}/{name}' if rel else name
            yield child
            st = os.lstat(os.path.join(root, child))
            if stat.S_ISDIR(st.st_mode) and child not in excluded:
                yield from visit(child)
    return visit('')


def image_config(diff_ids, env=None, cmd=None, workdir=None, user=None, labels=None,
                 architecture='amd64', history=None):
    """The image config JSON (bytes), canonical, with fixed timestamps."""
    config = {
        'architecture': architecture,
        'os': 'linux',
        'created': CREATED,
        'config': {k: v for k, v in {
            'Env': list(env or []), 'Cmd': list(cmd) if cmd else None,
            'WorkingDir': workdir, 'User': user, 'Labels': dict(labels or {}) or None,
        }.items() if v},
        'rootfs': {'type': 'layers', 'diff_ids': list(diff_ids)},
        'history': [{'created': CREATED, 'created_by': h} for h in (history or [])],
    }
    return json.dumps(config, sort_keys=True, separators=(',', ':')).encode()


def image_id(config_bytes):
    """Docker's image ID: the digest of the config."""
    return _sha256(config_bytes)


def docker_archive(config_bytes, layer_paths, repo_tag, out):
    """Write a ``docker load`` archive of one image to the file ``out``.

    A layer path of None lists the layer without its tar: ``docker load``
    reads a layer's file only if the engine lacks that layer chain, so
    layers the engine holds (the base's, a cached venv's) need not travel.
    """
    config_name = hashlib.sha256(config_bytes).hexdigest() + '.json'
    layers = [f'{i:03d}/layer.tar' for i in range(len(layer_paths))]
    manifest = json.dumps([{'Config': config_name, 'RepoTags': [repo_tag] if repo_tag else [],
                            'Layers': layers}], sort_keys=True).encode()
    with tarfile.open(fileobj=out, mode='w|', format=tarfile.GNU_FORMAT) as tar:
        for name, data in ((config_name, config_bytes), ('manifest.json', manifest)):
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), EPOCH
            tar.addfile(info, io.BytesIO(data))
        for name, path in zip(layers, layer_paths):
            if path is None:
                continue
            info = tar.gettarinfo(path, arcname=name)
            info.uid = info.gid = 0
            info.uname = info.gname = ''
            info.mtime = EPOCH
            with open(path, 'rb') as f:
                tar.addfile(info, f)
