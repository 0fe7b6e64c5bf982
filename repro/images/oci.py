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
import shutil
import stat
import tarfile

EPOCH = 0  # every mtime and 'created' is 1970-01-01T00:00:00Z
COPY = 1 << 20  # bytes a write, from a layer's files
CREATED = '1970-01-01T00:00:00Z'


def _sha256(data):
    return 'sha256:' + hashlib.sha256(data).hexdigest()


class TreeLayer:
    """A folder as a normalised layer tar, streamed in one pass.

    Its size is known before a byte is written (each entry's header and
    padded content), so the layer can be one member of a ``docker load``
    archive written straight into the engine: no layer file, no second
    read. ``write`` returns the diff id (``sha256:…`` of the tar), which is
    also kept in ``diff_id``. The bytes are exactly :func:`layer_tar`'s.
    """

    def __init__(self, root, exclude=()):
        self.root = root
        self.entries = list(_entries(root, {e.strip('/') for e in exclude}))
        size = sum(len(_header(info)) + (_padded(info.size) if info.isreg() else 0)
                   for _rel, info in self.entries)
        self.size = _padded(size + 2 * tarfile.BLOCKSIZE, tarfile.RECORDSIZE)
        self.diff_id = None

    def write(self, out):
        """Write the layer to ``out``; its diff id. Headers and contents go
        out as tarfile's writer lays them (a golden test holds the bytes),
        without its small buffers: a megabyte a write."""
        digest, written = hashlib.sha256(), 0

        def put(data):
            nonlocal written
            digest.update(data)
            written += len(data)
            out.write(data)
        for rel, info in self.entries:
            put(_header(info))
            if info.isreg():
                with open(os.path.join(self.root, rel), 'rb') as f:
                    left = info.size
                    while left:
                        block = f.read(min(COPY, left))
                        if not block:
                            raise OSError(f'{rel} in {self.root} shrank while its layer was written')
                        put(block)
                        left -= len(block)
                put(tarfile.NUL * (_padded(info.size) - info.size))
        put(tarfile.NUL * (self.size - written))  # the end blocks, to a whole record
        if written != self.size:
            raise OSError(f'{self.root} changed while its layer was written')
        self.diff_id = 'sha256:' + digest.hexdigest()
        return self.diff_id

    def digest(self):
        """The diff id, from a pass that reads the files and writes nothing."""
        class _Nowhere:
            def write(self, data):
                return len(data)
        return self.write(_Nowhere())


def layer_tar(root, out, exclude=()):
    """Write ``root``'s tree as a normalised layer tar to the file ``out``.

    ``exclude`` holds paths (relative to ``root``) whose contents are left
    out (the directory itself stays, e.g. ``proc``). Returns the layer's
    diff id (``sha256:…`` of the uncompressed tar).
    """
    return TreeLayer(root, exclude).write(out)


def _padded(size, block=tarfile.BLOCKSIZE):
    return -(-size // block) * block


def _entries(root, excluded):
    """(path, TarInfo) under ``root`` in a fixed (sorted, depth-first) order,
    normalised: owned by root, mtime 0. What ``TarFile.gettarinfo`` makes,
    hard links included, from one ``lstat`` and no user or group lookup."""
    inodes = {}

    def visit(rel):
        full = os.path.join(root, rel) if rel else root
        with os.scandir(full) as it:
            found = sorted(it, key=lambda e: e.name)
        for entry in found:
            child = f'{rel}/{entry.name}' if rel else entry.name
            st = entry.stat(follow_symlinks=False)
            info = _tarinfo(entry.path, child, st, inodes)
            if info is not None:
                yield child, info
            if stat.S_ISDIR(st.st_mode) and child not in excluded:
                yield from visit(child)
    return visit('')


def _tarinfo(path, name, st, inodes):
    info = tarfile.TarInfo(name)
    mode, info.linkname, info.size = st.st_mode, '', 0
    if stat.S_ISREG(mode):
        inode = (st.st_ino, st.st_dev)
        if st.st_nlink > 1 and inode in inodes and name != inodes[inode]:
            info.type, info.linkname = tarfile.LNKTYPE, inodes[inode]
        else:
            info.type, info.size = tarfile.REGTYPE, st.st_size
            if inode[0]:
                inodes[inode] = name
    elif stat.S_ISDIR(mode):
        info.type = tarfile.DIRTYPE
    elif stat.S_ISFIFO(mode):
        info.type = tarfile.FIFOTYPE
    elif stat.S_ISLNK(mode):
        info.type, info.linkname = tarfile.SYMTYPE, os.readlink(path)
    elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        info.type = tarfile.CHRTYPE if stat.S_ISCHR(mode) else tarfile.BLKTYPE
        info.devmajor, info.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
    else:
        return None  # a socket: not in a layer
    info.mode, info.uid, info.gid, info.uname, info.gname = mode, 0, 0, '', ''
    info.mtime = EPOCH
    return info


def _header(info):
    return info.tobuf(tarfile.GNU_FORMAT, 'utf-8', 'surrogateescape')


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


def docker_archive(config, layers, repo_tag, out):
    """Write a ``docker load`` archive of one image to the file ``out``; its config.

    ``layers`` are, base first: None for a layer the engine holds (``docker
    load`` reads a layer's file only if the engine lacks that layer chain,
    so the base's and a cached venv's need not travel), the path of a layer
    tar, or a :class:`TreeLayer`, streamed. ``config`` is the config's bytes,
    or a function of the layers' diff ids (as a streamed layer's is known
    only once it is written): the config and manifest come last, which
    ``docker load`` accepts as it reads the whole archive first.
    """
    names = [f'{i:03d}/layer.tar' for i in range(len(layers))]
    diff_ids = []
    for name, layer in zip(names, layers):
        if isinstance(layer, TreeLayer):
            _member(out, name, layer.size, layer.write)
            diff_ids.append(layer.diff_id)
        elif layer is not None:
            with open(layer, 'rb') as f:
                _member(out, name, os.fstat(f.fileno()).st_size,
                        lambda sink: shutil.copyfileobj(f, sink, 1 << 20))
            diff_ids.append(None)
        else:
            diff_ids.append(None)
    config = config(diff_ids) if callable(config) else config
    config_name = hashlib.sha256(config).hexdigest() + '.json'
    manifest = json.dumps([{'Config': config_name, 'RepoTags': [repo_tag] if repo_tag else [],
                            'Layers': names}], sort_keys=True).encode()
    for name, data in ((config_name, config), ('manifest.json', manifest)):
        _member(out, name, len(data), lambda sink, data=data: sink.write(data))
    out.write(tarfile.NUL * (2 * tarfile.BLOCKSIZE))
    return config


def _member(out, name, size, write):
    """One member of the outer archive: header, ``write(out)`` of ``size`` bytes, padding."""
    info = tarfile.TarInfo(name)
    info.size, info.mtime = size, EPOCH
    out.write(info.tobuf(tarfile.GNU_FORMAT, 'utf-8', 'surrogateescape'))
    write(out)
    out.write(tarfile.NUL * (_padded(size) - size))
