"""The global logger: routes messages and tabular data to outputs.

dowel 0.0.3's Logger (garage's): ``logger.log(x)`` hands ``x`` to every
output that accepts its type, ``logger.dump_all(step)`` ends an epoch. Unlike
dowel, removing an output also closes it.
"""
import warnings

from repro.log.outputs import LogOutput
from repro.log.prefix import PrefixStack


class LoggerWarning(UserWarning):
    """Something was logged that no output could take."""


class Logger(PrefixStack):
    """Fan-out of log data to :class:`~repro.log.outputs.LogOutput` objects."""

    def __init__(self):
        self._outputs = []
        super().__init__()
        self._warned = set()
        self._disable_warnings = False

    def __reduce__(self):
        name = getattr(self, '_singleton_name', None)
        if name:  # the global one: unpickle to the global one
            from repro.log import _singleton
            return (_singleton, (name,))
        return super().__reduce__()

    def log(self, data):
        """Send ``data`` (a str or a TabularInput) to the outputs that take it."""
        if not self._outputs:
            self._warn('No outputs have been added to the logger.')
        taken = False
        for output in self._outputs:
            if isinstance(data, output.types_accepted):
                output.record(data, prefix=self._prefix_str)
                taken = True
        if not taken:
            self._warn(f'Log data of type {type(data).__name__} was not '
                       'accepted by any output')

    @property
    def outputs(self):
        """The outputs, in the order they were added (a copy)."""
        return tuple(self._outputs)

    def add_output(self, output):
        """Add an output instance (a class is an error: outputs need arguments)."""
        if isinstance(output, type):
            raise ValueError('Output object must be instantiated - don\'t pass a type.')
        if not isinstance(output, LogOutput):
            raise ValueError('Output object must be a subclass of LogOutput')
        self._outputs.append(output)

    def reset_output(self, output):
        """Replace the outputs of ``output``'s type with ``output``."""
        self.remove_output_type(type(output), keep=output)
        self.add_output(output)

    def remove_all(self):
        """Flush, close and forget every output."""
        outputs, self._outputs = self._outputs, []
        errors = []
        for output in outputs:
            try:
                output.close()
            except Exception as exc:  # close the rest before reporting
                errors.append(exc)
        if errors:
            raise errors[0]

    def detach(self):
        """Take the outputs and prefixes away without closing them.

        Lets a nested experiment log to its own files; :meth:`attach` gives
        the outer experiment its outputs back afterwards.
        """
        state = (self._outputs, self._prefixes)
        self._outputs, self._prefixes, self._prefix_str = [], [], ''
        return state

    def attach(self, state):
        self._outputs, self._prefixes = state
        self._prefix_str = ''.join(self._prefixes)

    def remove_output_type(self, output_type, keep=None):
        """Remove (and close) the outputs of ``output_type``, but ``keep``."""
        for output in [o for o in self._outputs if isinstance(o, output_type)]:
            self._outputs.remove(output)
            if output is not keep:
                output.close()

    def has_output_type(self, output_type):
        return any(isinstance(o, output_type) for o in self._outputs)

    def dump_all(self, step=None):
        """End of an epoch: every output writes what it has collected."""
        for output in self._outputs:
            output.dump(step=step)

    def dump_output_type(self, output_type, step=None):
        for output in self._outputs:
            if isinstance(output, output_type):
                output.dump(step=step)

    def disable_warnings(self):
        """Stop the LoggerWarnings (dowel's method)."""
        self._disable_warnings = True

    def _warn(self, msg):
        if not self._disable_warnings and msg not in self._warned:
            warnings.warn(msg, LoggerWarning, stacklevel=3)
        self._warned.add(msg)
