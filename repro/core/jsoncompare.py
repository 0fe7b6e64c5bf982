"""JSON outputs compared by content, wall-clock fields reported (pure).

Libraries save state as JSON beside their weights: stable-baselines3's
model ``.zip`` holds a ``data`` member with ``start_time`` (nanoseconds
since the epoch), the repr of functions with their memory addresses, and
base64 pickles (``":serialized:"``) of things like the episode buffer,
whose entries carry the wall-clock time ``t``. Byte equality fails on every
run; these rules keep the learned values compared and the clock out:

- a key that the timing rules call wall-clock (``start_time``) is reported,
  not compared;
- ``<function f at 0x7f…>``-style reprs are compared without the address;
- a ``":serialized:"`` pickle is decoded **without executing it**
  (``pickletools`` opcodes of plain data only: dicts, lists, tuples, text,
  numbers, and named globals such as ``collections.deque``) and compared as
  data; one using anything else is compared by its text;
- in an episode-statistics record (keys exactly ``r``, ``l``, ``t``, as
  gymnasium's ``RecordEpisodeStatistics`` and stable-baselines3's
  ``Monitor`` write them) ``t``, the elapsed time, is reported, not compared.
"""
import base64
import binascii
import json
import math
import pickletools
import re
import struct

_ADDRESS = re.compile(r' at 0x[0-9a-fA-F]+>')
EPISODE_KEYS = frozenset('rlt')


class _Opaque(Exception):
    """A pickle that is more than plain data: compare its text instead."""


def load(data):
    """Parsed JSON of ``data`` (bytes), or None if it is not a JSON object or list."""
    if data[:1] not in (b'{', b'['):
        return None
    try:
        return json.loads(data.decode('utf-8'))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None


class _Global(tuple):
    """A named global in a decoded pickle (module, name): compared by name."""


class _Reduced(dict):
    """``global(*args)`` in a decoded pickle, with the items and state that
    later opcodes add (a deque's entries): compared as data, never called."""


def _items(target):
    if isinstance(target, _Reduced):
        return target.setdefault('items', [])
    if not isinstance(target, list):
        raise _Opaque('append to a non-list')
    return target


def _mapping(target):
    if isinstance(target, _Reduced):
        return target.setdefault('mapping', {})
    if not isinstance(target, dict):
        raise _Opaque('set an item of a non-dict')
    return target


def plain_pickle(raw):
    """The data in pickle bytes ``raw``, decoded from its opcodes; nothing runs.

    _Opaque for an opcode outside plain data. REDUCE of a named global is
    kept as (global, args) so a deque compares by its items.
    """
    try:
        return _run(list(pickletools.genops(raw)))
    except _Opaque:
        raise
    except Exception as exc:  # noqa: BLE001 - malformed or hostile opcodes: compare the text
        raise _Opaque(f'{type(exc).__name__}: {exc}') from None


def _run(ops):
    """The stack machine of :func:`plain_pickle`, for plain-data opcodes only."""
    stack, memo, marks = [], {}, []
    for op, arg, _pos in ops:
        name = op.name
        if name in ('PROTO', 'FRAME', 'STOP'):
            continue
        if name == 'MARK':
            marks.append(len(stack))
        elif name in ('EMPTY_DICT', 'EMPTY_LIST', 'EMPTY_TUPLE', 'NONE', 'NEWTRUE',
                      'NEWFALSE'):
            stack.append({'EMPTY_DICT': {}, 'EMPTY_LIST': [], 'EMPTY_TUPLE': (),
                          'NONE': None, 'NEWTRUE': True, 'NEWFALSE': False}[name])
        elif name in ('BINUNICODE', 'SHORT_BINUNICODE', 'BINUNICODE8', 'BININT', 'BININT1',
                      'BININT2', 'LONG1', 'BINFLOAT', 'BINBYTES', 'SHORT_BINBYTES'):
            stack.append(arg)
        elif name == 'MEMOIZE':
            memo[len(memo)] = stack[-1]
        elif name in ('BINGET', 'LONG_BINGET'):
            stack.append(memo[arg])
        elif name in ('TUPLE1', 'TUPLE2', 'TUPLE3'):
            n = int(name[-1])
            items = tuple(stack[-n:])
            del stack[-n:]
            stack.append(items)
        elif name in ('TUPLE', 'SETITEMS', 'APPENDS'):
            start = marks.pop()
            items = stack[start:]
            del stack[start:]
            if name == 'TUPLE':
                stack.append(tuple(items))
            elif name == 'APPENDS':
                _items(stack[-1]).extend(items)
            else:
                _mapping(stack[-1]).update(zip(items[::2], items[1::2]))
        elif name in ('SETITEM', 'APPEND'):
            if name == 'APPEND':
                _items(stack[-2]).append(stack.pop())
            else:
                value, key = stack.pop(), stack.pop()
                _mapping(stack[-1])[key] = value
        elif name == 'BUILD':
            state = stack.pop()
            if not isinstance(stack[-1], _Reduced):
                raise _Opaque('BUILD of plain data')
            stack[-1]['state'] = state
        elif name == 'STACK_GLOBAL':
            qualname, module = stack.pop(), stack.pop()
            stack.append(_Global((module, qualname)))
        elif name == 'REDUCE':
            args, func = stack.pop(), stack.pop()
            if not isinstance(func, _Global):
                raise _Opaque(f'REDUCE of {type(func).__name__}')
            stack.append(_Reduced(reduce=list(func), args=list(args)))
        else:
            raise _Opaque(f'opcode {name}')
    if len(stack) != 1:
        raise _Opaque('not one value')
    return stack[0]


def collapse(paths):
    """Skipped field paths with list indices folded (``[3]`` -> ``[*]``), once each."""
    return sorted({re.sub(r'\[\d+\]', '[*]', path) for path in paths})


def _same_number(a, b):
    if isinstance(a, float) or isinstance(b, float):
        try:
            a, b = float(a), float(b)
        except OverflowError:  # an integer no float can hold: not the same
            return False
        return struct.pack('<d', a) == struct.pack('<d', b) or (math.isnan(a) and math.isnan(b))
    return a == b


def difference(a, b, timing, where='$', timed=None):
    """Where JSON values ``a`` and ``b`` differ in content (None if they do not);
    wall-clock fields they skip are appended to ``timed``. Values nested
    deeper than Python can walk are a difference, never a crash."""
    timed = [] if timed is None else timed
    try:
        return _difference(a, b, timing, where, timed, '')
    except RecursionError:
        return f'{where}: nested too deeply to compare'


def _leaf(value):
    return not isinstance(value, (dict, list, tuple))


def _difference(a, b, timing, where, timed, name):
    """``name`` is the key path joined with '/' (``time/total_timesteps``), so
    the timing rules see a key with its group: only leaves are skipped."""
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            return f'{where}: keys {sorted(map(str, set(a) ^ set(b)))[:5]} on one side only'
        episode = set(a) == EPISODE_KEYS
        for key in sorted(a, key=str):
            here, full = f'{where}.{key}', f'{name}/{key}' if name else str(key)
            if _leaf(a[key]) and _leaf(b[key]) and (timing.is_timing(full)
                                                   or episode and key == 't'):
                timed.append(here)
                continue
            if key == ':serialized:' and a[key] != b[key]:
                found = _serialized_difference(a[key], b[key], timing, here, timed)
            else:
                found = _difference(a[key], b[key], timing, here, timed, full)
            if found:
                return found
        return None
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        if len(a) != len(b):
            return f'{where}: {len(a)} items != {len(b)} items'
        for i, (x, y) in enumerate(zip(a, b)):
            found = _difference(x, y, timing, f'{where}[{i}]', timed, name)
            if found:
                return found
        return None
    if isinstance(a, str) and isinstance(b, str):
        same = a == b or _ADDRESS.sub(' at 0x…>', a) == _ADDRESS.sub(' at 0x…>', b)
        return None if same else f'{where}: {a[:60]!r} != {b[:60]!r}'
    numbers = (int, float)
    if isinstance(a, numbers) and isinstance(b, numbers) and not isinstance(a, bool) \
            and not isinstance(b, bool):
        return None if _same_number(a, b) else f'{where}: {a!r} != {b!r}'
    return None if (type(a), a) == (type(b), b) else f'{where}: {a!r} != {b!r}'


def _serialized_difference(a, b, timing, where, timed):
    """A base64 pickle compared as data when it is plain data, else by text."""
    try:
        data_a, data_b = (plain_pickle(base64.b64decode(v, validate=True)) for v in (a, b))
    except (_Opaque, binascii.Error, TypeError, ValueError, IndexError, KeyError):
        return f'{where}: the serialized values differ'
    return _difference(data_a, data_b, timing, where + '<pickle>', timed, '')
