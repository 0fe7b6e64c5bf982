"""Content equality of Python object graphs, e.g. two unpickled snapshots.

Pickle bytes are a poor test of "same state": torch embeds a random
serialisation id, and dict or memo layout may differ while the values do
not. ``first_difference`` walks both graphs instead and compares arrays and
tensors bit for bit, floats by their bits, containers element by element and
other objects by what they pickle (``__reduce_ex__``).
"""
import struct
import sys

import numpy as np

_ATOMS = (bool, int, str, bytes, complex, type(None), type(Ellipsis))


def _is_tensor(obj):
    torch = sys.modules.get('torch')
    return torch is not None and isinstance(obj, torch.Tensor)


def _array_difference(a, b, path):
    if a.dtype != b.dtype or a.shape != b.shape:
        return f'{path}: array {a.dtype}{a.shape} != {b.dtype}{b.shape}'
    if a.dtype == object:
        for i, (x, y) in enumerate(zip(a.ravel(), b.ravel())):
            diff = first_difference(x, y, f'{path}[{i}]')
            if diff:
                return diff
        return None
    if a.tobytes() == b.tobytes():
        return None
    flat_a, flat_b = a.ravel(), b.ravel()
    same = flat_a == flat_b
    if np.issubdtype(a.dtype, np.inexact):
        same |= np.isnan(flat_a) & np.isnan(flat_b)
    bad = np.flatnonzero(~same)
    if not len(bad):
        return f'{path}: arrays differ in their bits (e.g. -0.0 vs 0.0)'
    idx = np.unravel_index(bad[0], a.shape)
    return f'{path}[{",".join(map(str, idx))}]: {flat_a[bad[0]]!r} != {flat_b[bad[0]]!r}'


def _tensor_to_numpy(t):
    t = t.detach().cpu()
    torch = sys.modules['torch']
    if t.dtype == torch.bfloat16:
        t = t.view(torch.int16)
    return t.numpy()


def _reduced(obj):
    """What pickle would store for ``obj``: (callable, args, state, items)."""
    reduced = obj.__reduce_ex__(4)
    if isinstance(reduced, str):  # a global: compared by name
        return (reduced,)
    parts = list(reduced) + [None] * (6 - len(reduced))
    for i in (3, 4):  # list/dict item iterators
        if parts[i] is not None:
            parts[i] = list(parts[i])
    return tuple(parts[:5])


def _named(obj):
    return f'{getattr(obj, "__module__", "?")}.{getattr(obj, "__qualname__", "?")}'


def first_difference(a, b, path='$', _seen=None):
    """None when ``a`` and ``b`` hold equal content, else where they differ."""
    if a is b:
        return None
    if type(a) is not type(b) and _named(type(a)) != _named(type(b)):
        # Same-named classes are the same class unpickled twice (cloudpickle
        # pickles classes of a launcher's __main__ by value).
        return f'{path}: {_named(type(a))} != {_named(type(b))}'
    if isinstance(a, float):
        same = struct.pack('<d', a) == struct.pack('<d', b)
        return None if same else f'{path}: {a!r} != {b!r}'
    if isinstance(a, _ATOMS):
        return None if a == b else f'{path}: {a!r} != {b!r}'
    if isinstance(a, np.ndarray):
        return _array_difference(a, b, path)
    if isinstance(a, np.generic):
        return _array_difference(np.asarray(a), np.asarray(b), path)
    if _is_tensor(a):
        if a.dtype != b.dtype:
            return f'{path}: tensor {a.dtype} != {b.dtype}'
        return _array_difference(_tensor_to_numpy(a), _tensor_to_numpy(b), path)
    if isinstance(a, (type, type(first_difference), type(len))):
        return None if _named(a) == _named(b) else f'{path}: {_named(a)} != {_named(b)}'
    # Keyed by id pair; the values keep both objects alive so a temporary's
    # id cannot be reused by another object during the walk.
    seen = {} if _seen is None else _seen
    if (id(a), id(b)) in seen:
        return None
    seen[id(a), id(b)] = (a, b)
    if isinstance(a, dict):
        if len(a) != len(b):
            return f'{path}: {len(a)} keys != {len(b)} keys'
        for i, ((ka, va), (kb, vb)) in enumerate(zip(a.items(), b.items())):
            label = f'{path}[{ka!r}]' if isinstance(ka, (str, int)) else f'{path}<item {i}>'
            diff = (first_difference(ka, kb, label + '<key>', seen)
                    or first_difference(va, vb, label, seen))
            if diff:
                return diff
        return None
    if isinstance(a, (list, tuple)):
        if len(a) != len(b):
            return f'{path}: length {len(a)} != {len(b)}'
        for i, (x, y) in enumerate(zip(a, b)):
            diff = first_difference(x, y, f'{path}[{i}]', seen)
            if diff:
                return diff
        return None
    if isinstance(a, (set, frozenset)):
        return None if a == b else f'{path}: sets differ'
    try:
        ra, rb = _reduced(a), _reduced(b)
    except Exception as exc:  # unpicklable: nothing sound to compare
        return f'{path}: cannot compare {type(a).__name__} ({exc})'
    return first_difference(ra[1:], rb[1:], f'{path}.{type(a).__name__}', seen)


def same_content(a, b):
    return first_difference(a, b) is None
