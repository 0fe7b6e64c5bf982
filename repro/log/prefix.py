"""A stack of string prefixes, shared by the logger and the tabular input."""
import contextlib


class PrefixStack:
    """``push_prefix``/``pop_prefix`` and a ``with x.prefix(p):`` block."""

    def __init__(self):
        self._prefixes = []
        self._prefix_str = ''

    @contextlib.contextmanager
    def prefix(self, prefix):
        """Apply ``prefix`` to everything logged or recorded in the block."""
        self.push_prefix(prefix)
        try:
            yield
        finally:
            self.pop_prefix()

    def push_prefix(self, prefix):
        self._prefixes.append(prefix)
        self._prefix_str = ''.join(self._prefixes)

    def pop_prefix(self):
        if self._prefixes:
            self._prefixes.pop()
        self._prefix_str = ''.join(self._prefixes)
