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
- code that a snapshot pickled by value (the launcher's, which runs as
  ``__main__``) comes back with its names and constants no longer shared.

:func:`canonicalize` (run on a restored snapshot and on the sampler's copies
of the environment) shares them again as a fresh process does. With
:mod:`repro.experiment.pickling` (ids of classes, torch storages), training
10 epochs and training 5, stopping and resuming to 10 give byte-identical
snapshots, as do two runs. What these cannot reach (state a launcher itself
round-trips through pickle, say) still differs in bytes only: compare such
snapshots by content.
"""
import re
import sys
import types
import warnings

_NAME = re.compile(r'[A-Za-z0-9_]+')   # what CPython interns in code constants


_ATOMS = (str, bytes, int, float, type(None), types.ModuleType)


def canonicalize(root):
    """Share names and builtin dtypes in the graph under ``root`` as a fresh
    process does (in place; values stay equal); returns ``root``."""
    np = sys.modules.get('numpy')
    seen, todo = {}, [root]  # id -> object: kept alive, so no id is reused meanwhile
    code_consts = {}         # constant tuples of the code remade here, by value
    while todo:
        obj = todo.pop()
        if id(obj) in seen or isinstance(obj, _ATOMS):
            continue
        seen[id(obj)] = obj
        todo.append(type(obj))
        todo.extend(_even_out(obj, np, code_consts))
    return root


def _even_out(obj, np, code_consts):
    """Share what ``obj`` itself holds; returns what to visit next."""
    if isinstance(obj, dict):
        _intern_keys(obj)
        _own_dtypes(np, obj, list(obj.items()))
        return list(obj.values())
    if isinstance(obj, list):
        _own_dtypes(np, obj, list(enumerate(obj)))
        return list(obj)
    if isinstance(obj, (tuple, set, frozenset)):
        return list(obj)
    if np is not None and isinstance(obj, np.ndarray):
        _share_dtype(np, obj)
        return obj.ravel().tolist() if obj.dtype.hasobject else ()
    if isinstance(obj, types.FunctionType):
        if _made_here(obj):
            obj.__code__ = _interned_code(obj.__code__, code_consts)
        return list(_function_parts(obj))
    if isinstance(obj, type):
        if not _made_here(obj):
            return ()
        _intern_names(obj)
        return list(vars(obj).values())
    if type(obj).__module__.startswith('numpy.random'):
        return _reduced(obj)  # generators: what they pickle is what they hold
    slots = getattr(type(obj), '__slots__', ())
    return [getattr(obj, '__dict__', None),
            *(getattr(obj, name, None) for name in ((slots,) if isinstance(slots, str)
                                                    else slots))]


def _reduced(obj):
    """The arguments and state an extension object pickles (numpy's random
    generators and seed sequences hand out the arrays they hold)."""
    try:
        reduced = obj.__reduce_ex__(5)
    except Exception:  # noqa: BLE001 - nothing to share then
        return ()
    return list(reduced[1:]) if isinstance(reduced, tuple) else ()


def _own_dtypes(np, container, items):
    """numpy's own dtype instances for the copies among ``items`` (key, value)."""
    if np is None:
        return
    for key, value in items:
        if isinstance(value, np.dtype) and _builtin(np, value) is not None:
            container[key] = _builtin(np, value)


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
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            try:
                array.dtype = own  # the same dtype, numpy's instance: no data changes
            except Exception:  # noqa: BLE001 - a numpy that refuses: bytes may differ
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
