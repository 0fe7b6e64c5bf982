"""Snapshot bytes that depend on the training state, not on how it came to be.

Pickle writes a value once and refers back to it wherever the *same object*
appears again, so its bytes depend on object identity. A process that
restored a snapshot holds equal values in other objects than a process that
made them, and its snapshots differ in bytes, though not in content:

- names: the compiler interns ``'seed'``, so a fresh process's dict keys and
  attribute names share one string; pickle interns only the attribute names
  it restores, not dict keys or a class's ``__name__``;
- numpy dtypes: arrays and spaces share numpy's one ``float64`` dtype, but
  each dtype unpickles (and deep-copies) as a copy of its own;
- cloudpickle gives each class it pickles by value (one defined in the
  launcher, which runs as ``__main__``) a random id, a new one per process;
- torch pickles each tensor's storage under its memory address.

:func:`canonicalize` (run on a restored snapshot and on the sampler's copies
of the environment) shares names and dtypes again as a fresh process does,
:func:`install_class_ids` makes the class ids a digest of the class, and
:func:`dump` pickles torch storages under a fixed key, so that training 10
epochs and training 5, stopping and resuming to 10 give byte-identical
snapshots, as do two runs. What these cannot reach (state a launcher itself
round-trips through pickle, say) still differs in bytes only: compare such
snapshots by content.
"""
import collections
import hashlib
import io
import re
import struct
import sys
import types

import cloudpickle

_NAME = re.compile(r'[A-Za-z0-9_]+')   # what CPython interns in code constants


def canonicalize(root):
    """Share names and builtin dtypes in the graph under ``root`` as a fresh
    process does (in place; values stay equal); returns ``root``."""
    np = sys.modules.get('numpy')
    seen, todo = {}, [root]  # id -> object: kept alive, so no id is reused meanwhile
    code_consts = {}         # constant tuples of the code remade here, by value
    while todo:
        obj = todo.pop()
        if id(obj) in seen or isinstance(obj, (str, bytes, int, float, type(None),
                                               types.ModuleType)):
            continue
        seen[id(obj)] = obj
        todo.append(type(obj))
        if isinstance(obj, dict):
            _intern_keys(obj)
            if np is not None:
                for key, value in obj.items():
                    if isinstance(value, np.dtype) and _builtin(np, value) is not None:
                        obj[key] = _builtin(np, value)
            todo.extend(obj.values())
        elif isinstance(obj, list):
            if np is not None:
                for i, value in enumerate(obj):
                    if isinstance(value, np.dtype) and _builtin(np, value) is not None:
                        obj[i] = _builtin(np, value)
            todo.extend(obj)
        elif isinstance(obj, (tuple, set, frozenset)):
            todo.extend(obj)
        elif np is not None and isinstance(obj, np.ndarray):
            _share_dtype(np, obj)
            if obj.dtype.hasobject:
                todo.extend(obj.ravel().tolist())
        elif isinstance(obj, types.FunctionType):
            if _made_here(obj):
                obj.__code__ = _interned_code(obj.__code__, code_consts)
            todo.extend(_function_parts(obj))
        elif isinstance(obj, type):
            if _made_here(obj):
                _intern_names(obj)
                todo.extend(vars(obj).values())
        elif type(obj).__module__.startswith('numpy.random'):
            todo.extend(_reduced(obj))  # generators: what they pickle is what they hold
        else:
            todo.append(getattr(obj, '__dict__', None))
            slots = getattr(type(obj), '__slots__', ())
            for name in (slots,) if isinstance(slots, str) else slots:
                todo.append(getattr(obj, name, None))
    return root


def _reduced(obj):
    """The arguments and state an extension object pickles (numpy's random
    generators and seed sequences hand out the arrays they hold)."""
    try:
        reduced = obj.__reduce_ex__(5)
    except Exception:  # noqa: BLE001 - nothing to share then
        return ()
    return reduced[1:] if isinstance(reduced, tuple) else ()


def _intern_keys(d):
    if all(_fresh_key(k) is k for k in d):
        return
    items = list(d.items())
    d.clear()
    d.update((_fresh_key(k), v) for k, v in items)


def _fresh_key(key):
    """The key as a fresh process most likely holds it: a name interned (as
    the compiler interns it), a digit as ``str(i)`` makes it (a new string,
    where unpickling gives Python's one-character string: torch numbers the
    layers of ``Sequential`` so)."""
    if type(key) is not str:
        return key
    if len(key) == 1 and '0' <= key <= '9':
        return key if key is not sys.intern(key) else str(int(key))
    return sys.intern(key) if _NAME.fullmatch(key) else key


def _builtin(np, dtype):
    """numpy's own instance of ``dtype`` if it is a copy of a builtin one, else None."""
    if dtype.names is not None or dtype.subdtype is not None or dtype.metadata is not None:
        return None
    try:
        own = np.dtype(dtype.str)
    except TypeError:
        return None
    return own if own.isbuiltin == 1 and own is not dtype and own == dtype else None


def _share_dtype(np, array):
    own = _builtin(np, array.dtype)
    if own is not None:
        try:
            array.dtype = own  # the same dtype, numpy's instance: no data changes
        except (AttributeError, TypeError, ValueError):
            pass


def _function_parts(function):
    """What a function pickled by value carries: its globals (unless they
    are a real module's), closure, defaults and attributes."""
    module = sys.modules.get(function.__module__)
    if getattr(module, '__dict__', None) is not function.__globals__:
        yield function.__globals__
    for cell in function.__closure__ or ():
        try:
            yield cell.cell_contents
        except ValueError:  # an empty cell
            pass
    yield function.__defaults__
    yield function.__kwdefaults__
    yield function.__dict__


def _made_here(obj):
    """Whether a class or function was made by unpickling (cloudpickle pickles
    them by value), not found under its name in an imported module."""
    found = sys.modules.get(obj.__module__)
    for part in obj.__qualname__.split('.'):
        found = getattr(found, part, None)
    return found is not obj


def _interned_code(code, shared=None):
    """``code`` as the compiler makes it: its name and qualified name
    interned (one string, when they are equal), equal constant tuples of
    the code objects made together one tuple; its nested code too."""
    shared = {} if shared is None else shared
    qualname = getattr(code, 'co_qualname', None)
    consts = tuple(_interned_code(c, shared) if isinstance(c, types.CodeType) else c
                   for c in code.co_consts)
    try:
        consts = shared.setdefault(tuple((type(c), c) for c in consts), consts)
    except TypeError:  # an unhashable constant: leave it
        pass
    if code.co_name is sys.intern(code.co_name) and qualname in (None, sys.intern(qualname)) \
            and consts is code.co_consts:
        return code
    changes = {'co_name': sys.intern(code.co_name), 'co_consts': consts}
    if qualname is not None:
        changes['co_qualname'] = sys.intern(qualname)
    return code.replace(**changes)


def _intern_names(cls):
    try:
        cls.__name__ = sys.intern(cls.__name__)
        cls.__qualname__ = sys.intern(cls.__qualname__)
    except (TypeError, AttributeError):  # a builtin or extension type
        pass


# -- class ids -------------------------------------------------------------
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


# -- torch storages --------------------------------------------------------
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
