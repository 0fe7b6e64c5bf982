"""Key/value metrics for one epoch: dowel 0.0.3's ``TabularInput``.

Outputs mark the keys they take (``mark``, ``mark_str``); ``clear`` warns,
once per key and type, about a value that no output took, such as a dict
recorded by mistake.
"""
import numbers
import re
import warnings

import numpy as np

from repro.log.prefix import PrefixStack

_MISC_STATS = (('Average', np.average), ('Std', np.std), ('Median', np.median),
               ('Min', np.min), ('Max', np.max))


class TabularInputWarning(UserWarning):
    """A recorded value was not taken by any output (dowel's warning)."""


def _primitive(value):
    """A scalar for CSV/TensorBoard (a number, bool or str), or None.

    numpy scalars stay numpy scalars, as in dowel, so a float32 is written
    as ``0.1``, not ``0.10000000149011612``. Unlike dowel, 0-d arrays and
    tensors count too.
    """
    if getattr(value, 'ndim', None) == 0 and not isinstance(value, np.generic):
        value = value[()] if isinstance(value, np.ndarray) else value.item()
    if isinstance(value, (bool, np.bool_, numbers.Number, str)):
        return value
    return None


def _afterpoint(text):
    """Characters after the decimal point (or exponent), -1 without one;
    tabulate's rule for lining up a column of numbers."""
    try:
        float(text)
    except ValueError:
        return -1  # not a number ('True')
    if re.fullmatch(r'[-+]?\d+', text):
        return -1
    pos = text.rfind('.')
    pos = text.lower().rfind('e') if pos < 0 else pos
    return len(text) - pos - 1 if pos >= 0 else -1


def _value_column(values):
    """Cells of the value column, as tabulate's "simple" format shows them:
    numbers (floats as ``%g``) lined up on the decimal point, else text."""
    if not all(isinstance(v, numbers.Real) for v in values) or \
            all(isinstance(v, bool) for v in values):
        cells = [str(v) for v in values]
        return [c.ljust(max(map(len, cells))) for c in cells]
    is_float = any(isinstance(v, numbers.Real) and not isinstance(v, numbers.Integral)
                   for v in values)
    cells = [format(float(v), 'g') if is_float else str(v) for v in values]
    decimals = [_afterpoint(c) for c in cells]
    cells = [c + ' ' * (max(decimals) - d) for c, d in zip(cells, decimals)]
    width = max(map(len, cells))
    return [c.rjust(width) for c in cells]


def format_table(items):
    """``(key, value)`` pairs as dowel prints them (tabulate, no headers)."""
    if not items:
        return ''
    keys = [str(k) for k, _ in items]
    cells = _value_column([v for _, v in items])
    rule = '-' * max(map(len, keys)) + '  ' + '-' * len(cells[0])
    rows = [(k.ljust(len(rule) - len(cells[0]) - 2) + '  ' + c).rstrip()
            for k, c in zip(keys, cells)]
    return '\n'.join([rule, *rows, rule])


class TabularInput(PrefixStack):
    """Collects ``record(key, value)`` calls until the logger dumps them."""

    def __init__(self):
        self._dict = {}
        self._recorded = set()
        self._warned_once = set()
        self._disable_warnings = False
        super().__init__()

    def __reduce__(self):
        name = getattr(self, '_singleton_name', None)
        if name:  # the global one: unpickle to the global one
            from repro.log import _singleton
            return (_singleton, (name,))
        return super().__reduce__()

    def __str__(self):
        """The primitive values, sorted by key (dowel's table)."""
        return format_table(sorted(self.as_primitive_dict.items()))

    def record(self, key, val):
        """Record ``val`` under ``key`` (with the current prefix).

        Any value is accepted; outputs take what they can write.
        """
        self._dict[self._prefix_str + str(key)] = val

    def record_misc_stat(self, key, values, placement='back'):
        """Record Average, Std, Median, Min and Max of ``values``.

        Named ``<key>Average`` … with ``placement='back'`` (the default) and
        ``Average<key>`` … with ``'front'``, as in dowel. Empty or None
        ``values`` give NaNs.
        """
        front, back = ('', key) if placement == 'front' else (key, '')
        empty = values is None or len(values) == 0
        for name, fn in _MISC_STATS:
            self.record(front + name + back, np.nan if empty else fn(values))

    def mark(self, key):
        """An output took ``key``."""
        self._recorded.add(key)

    def mark_str(self):
        """An output took every primitive value (as a text table does)."""
        self._recorded |= self.as_primitive_dict.keys()

    def mark_all(self):
        """An output took every value."""
        self._recorded |= self._dict.keys()

    def clear(self):
        """Forget every value; warn once about each one no output took."""
        for key, value in self._dict.items():
            if key not in self._recorded:
                self._warn(f'TabularInput {{{key}: type({type(value).__name__})}} '
                           'was not accepted by any output')
        self._dict.clear()
        self._recorded.clear()

    def disable_warnings(self):
        """Stop the warnings of :meth:`clear`."""
        self._disable_warnings = True

    def _warn(self, msg):
        if not self._disable_warnings and msg not in self._warned_once:
            warnings.warn(msg, TabularInputWarning, stacklevel=3)
        self._warned_once.add(msg)

    def detach(self):
        """Take the values and marks away without warning (nested experiments)."""
        state = self._dict, self._recorded
        self._dict, self._recorded = {}, set()
        return state

    def attach(self, state):
        self._dict, self._recorded = state

    @property
    def as_dict(self):
        return dict(self._dict)

    @property
    def as_primitive_dict(self):
        """Only the values that are plain numbers, bools or strings."""
        out = {}
        for key, value in self._dict.items():
            prim = _primitive(value)
            if prim is not None:
                out[key] = prim
        return out
