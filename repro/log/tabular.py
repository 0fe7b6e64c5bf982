"""Key/value metrics for one epoch, in dowel's ``TabularInput`` style."""
import numbers

import numpy as np

from repro.log.prefix import PrefixStack


def _primitive(value):
    """A plain Python value for CSV/TensorBoard, or None if there is none."""
    if isinstance(value, np.generic):
        value = value.item()
    if hasattr(value, 'item') and getattr(value, 'ndim', None) == 0:
        value = value.item()  # 0-d arrays and tensors
    if isinstance(value, (bool, numbers.Number, str)):
        return value
    return None


class TabularInput(PrefixStack):
    """Collects ``record(key, value)`` calls until the logger dumps them."""

    def __init__(self):
        self._dict = {}
        super().__init__()


    def __reduce__(self):
        name = getattr(self, '_singleton_name', None)
        if name:  # the global one: unpickle to the global one
            from repro.log import _singleton
            return (_singleton, (name,))
        return super().__reduce__()

    def __str__(self):
        if not self._dict:
            return ''
        width = max(len(k) for k in self._dict)
        rule = '-' * width + '  ' + '-' * 12
        rows = [f'{k:<{width}}  {v}' for k, v in self._dict.items()]
        return '\n'.join([rule, *rows, rule])

    def record(self, key, val):
        """Record ``val`` under ``key`` (with the current prefix)."""
        self._dict[self._prefix_str + str(key)] = val

    def record_misc_stat(self, key, values, placement='back'):
        """Record Average/Std/Median/Min/Max of ``values`` (NaN when empty)."""
        front, back = (key, '') if placement == 'front' else ('', key)
        stats = dict(Average=np.average, Std=np.std, Median=np.median,
                     Min=np.min, Max=np.max)
        for name, fn in stats.items():
            self.record(front + name + back,
                        fn(values) if len(values) else np.nan)

    def clear(self):
        self._dict.clear()

    def load(self, values):
        """Replace every recorded value with ``values`` (no prefix applied)."""
        self._dict = dict(values)

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
