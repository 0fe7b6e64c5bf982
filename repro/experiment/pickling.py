"""How snapshots are pickled: cloudpickle, with bytes that depend on the state only.

Two things in cloudpickle's bytes change from process to process:

- each class it pickles by value (one defined in the launcher, which runs as
  ``__main__``) carries a random id (``uuid4``), a new one per process;
- torch pickles each tensor's storage under its memory address.

:func:`install_class_ids` makes the id a digest of the class, and
:func:`dump` pickles torch storages under a fixed key. With
:mod:`repro.experiment.canonical`, two runs and a resumed run give
byte-identical snapshots.
"""
import collections
import hashlib
import io
import struct
import sys
import types

import cloudpickle


def install_class_ids():
    """Make cloudpickle's ids of by-value classes a digest of the class.

    cloudpickle ids each such class (``uuid4``) so that unpickling it twice
    in one process gives one class. The digest of its module, name and
    members, numbered among classes of equal digest in this process, keeps
    that (equal classes share an id, as the same class does) and is the same
    in every process. Does nothing with a cloudpickle that has no such ids.
    """
    try:
        from cloudpickle import cloudpickle as cp
        lock, by_class, by_id = (cp._DYNAMIC_CLASS_TRACKER_LOCK,
                                 cp._DYNAMIC_CLASS_TRACKER_BY_CLASS,
                                 cp._DYNAMIC_CLASS_TRACKER_BY_ID)
        original = cp._get_or_create_tracker_id
    except (ImportError, AttributeError):
        return
    if getattr(original, '_repro', False):
        return

    def tracker_id(class_def):
        with lock:
            found = by_class.get(class_def)
            if found is None:
                digest = class_digest(class_def)
                n = 0
                while f'{digest}{n:04x}' in by_id:
                    n += 1
                found = f'{digest}{n:04x}'
                by_class[class_def] = found
                by_id[found] = class_def
            return found
    tracker_id._repro = True
    cp._get_or_create_tracker_id = tracker_id


def class_digest(cls):
    """28 hex digits of the class's module, name, bases and members: the
    code of functions, the repr of plain values, else the type."""
    h = hashlib.sha256(f'{cls.__module__}\0{cls.__qualname__}\0'.encode())
    for base in cls.__bases__:
        h.update(f'{base.__module__}.{base.__qualname__}\0'.encode())
    for name, value in sorted(vars(cls).items()):
        h.update(name.encode() + b'\0' + _member_bytes(value) + b'\0')
    return h.hexdigest()[:28]


def _member_bytes(value):
    if isinstance(value, property):
        return b'property' + b''.join(_member_bytes(f) for f in (value.fget, value.fset,
                                                                   value.fdel))
    value = getattr(value, '__func__', value)  # classmethod, staticmethod
    code = getattr(value, '__code__', None)
    if isinstance(code, types.CodeType):
        return _code_bytes(code)
    if isinstance(value, (str, bytes, int, float, bool, type(None))):
        return repr(value).encode()
    return f'{type(value).__module__}.{type(value).__qualname__}'.encode()


def _code_bytes(code):
    """A code object's bytecode, names and constants (not marshal's bytes,
    which depend on reference counts)."""
    names = (code.co_names, code.co_varnames, code.co_freevars, code.co_cellvars,
             code.co_argcount, code.co_kwonlyargcount, code.co_flags)
    return b'\0'.join([code.co_code, repr(names).encode(),
                        *(_code_bytes(c) if isinstance(c, types.CodeType) else _const(c)
                          for c in code.co_consts)])


def _const(value):
    if isinstance(value, (tuple, frozenset)):
        items = [_const(v) for v in value]
        return b'(' + b','.join(sorted(items) if isinstance(value, frozenset) else items) + b')'
    return repr(value).encode()


def dump(obj, file):
    """``cloudpickle.dump``, with torch storages under a fixed key."""
    _pickler()(file, protocol=cloudpickle.DEFAULT_PROTOCOL).dump(obj)


def dumps(obj):
    buf = io.BytesIO()
    dump(obj, buf)
    return buf.getvalue()


_TORCH_PICKLER = []


def _pickler():
    """cloudpickle's Pickler, or once torch is imported, one that pickles its
    storages with :func:`_reduce_storage` (looked up by type, in C: other
    objects cost nothing more)."""
    torch = sys.modules.get('torch')
    if torch is None:
        return cloudpickle.Pickler
    if not _TORCH_PICKLER:
        table = {kind: _reduce_storage
                 for kind in (torch.storage.TypedStorage, torch.UntypedStorage)}
        # One flat chain (cloudpickle's own is a chain too): each lookup is a
        # Python call, and a chain inside a chain made pickling 15% slower.
        inner = cloudpickle.Pickler.dispatch_table
        maps = inner.maps if isinstance(inner, collections.ChainMap) else [inner]
        _TORCH_PICKLER.append(type('SnapshotPickler', (cloudpickle.Pickler,), {
            'dispatch_table': collections.ChainMap(table, *maps)}))
    return _TORCH_PICKLER[0]


def _reduce_storage(storage):
    """What torch's own ``__reduce__`` gives (``_load_from_bytes`` of its
    legacy ``torch.save``), with the storage's key, its memory address, made
    ``'0'``. The legacy format holds the key twice before the data (8 bytes
    of size, then the bytes); any other layout is pickled as torch does."""
    import torch
    buf = io.BytesIO()
    torch.save(storage, buf, _use_new_zipfile_serialization=False)
    data = buf.getvalue()
    untyped = getattr(storage, '_untyped_storage', storage)
    key = str(untyped._cdata).encode()
    head = len(data) - 8 - untyped.nbytes()
    old = b'X' + struct.pack('<I', len(key)) + key
    if head < 0 or data.count(old, 0, head) != 2:
        return storage.__reduce__()
    return (torch.storage._load_from_bytes,
            (data[:head].replace(old, b'X\x01\x00\x00\x000') + data[head:],))
