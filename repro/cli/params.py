"""Parameter values coerced without pydantic.

typer 0.29 coerces every parameter value through a pydantic ``TypeAdapter``:
importing pydantic and building the adapters costs about 0.1 s per command,
a sixth of a warm ``repro run``. repro's parameters are plain ``str``,
``bool``, ``int`` and ``float`` (with ``min``/``max``) and lists of ``str``, so
:func:`plain_coercion` gives exactly those a coercion of their own, with
typer's messages. Any other parameter, and a typer without this machinery
(older or newer), is left to typer.
"""
import re

import typer

_INT = re.compile(r'\s*[+-]?\d+\s*')
_BOOLS = {**dict.fromkeys(('1', 'true', 't', 'yes', 'y', 'on'), True),
          **dict.fromkeys(('0', 'false', 'f', 'no', 'n', 'off'), False)}
_MESSAGES = {bool: 'Input should be a valid boolean, unable to interpret input',
             int: 'Input should be a valid integer, unable to parse string as an integer',
             float: 'Input should be a valid number, unable to parse string as a number'}


class PlainValue:
    """What typer's runtime parameter does, for one plain annotation."""

    def __init__(self, kind, many=False, low=None, high=None):
        self.kind, self.many, self.low, self.high = kind, many, low, high

    def coerce(self, value, param, ctx):
        many = param.multiple or param.nargs == -1
        if value is None:
            return () if many else None
        if many:
            if isinstance(value, str):
                raise typer.BadParameter('Value must be an iterable.', ctx=ctx, param=param)
            return [self._one(v, param, ctx) for v in value]
        return self._one(value, param, ctx)

    def _one(self, value, param, ctx):
        if self.kind is str:
            return value if isinstance(value, str) else str(value)
        if self.kind is bool:
            if isinstance(value, str) and value.strip().lower() in _BOOLS:
                return _BOOLS[value.strip().lower()]
            if isinstance(value, bool):
                return value
            raise typer.BadParameter(_MESSAGES[bool], ctx=ctx, param=param)
        if isinstance(value, str):
            try:
                if self.kind is int and not _INT.fullmatch(value):
                    raise ValueError(value)
                value = self.kind(value)
            except ValueError:
                raise typer.BadParameter(_MESSAGES[self.kind], ctx=ctx, param=param) from None
        if self.low is not None and value < self.low:
            raise typer.BadParameter(f'Input should be greater than or equal to {self.low}',
                                     ctx=ctx, param=param)
        if self.high is not None and value > self.high:
            raise typer.BadParameter(f'Input should be less than or equal to {self.high}',
                                     ctx=ctx, param=param)
        return value


def _plain(param):
    """A :class:`PlainValue` for ``param``, or None to leave it to typer."""
    descriptor = getattr(param, 'type_descriptor', None)
    info = getattr(descriptor, 'parameter_info', None)
    if info is None or not hasattr(param, '_runtime_param') or info.parser is not None \
            or getattr(info, 'clamp', False) or descriptor.file_annotation is not None:
        return None
    annotation, many = descriptor.annotation, False
    if getattr(annotation, '__origin__', None) is list and annotation.__args__ == (str,):
        annotation, many = str, True
    if annotation not in (str, int, float, bool) or (annotation in (str, bool) and (
            info.min is not None or info.max is not None or descriptor.is_choice
            or descriptor.is_path)):
        return None
    return PlainValue(annotation, many, info.min, info.max)


def plain_coercion(command):
    """Give every plain parameter of ``command`` and its subcommands a
    :class:`PlainValue`; returns how many it gave one."""
    count = 0
    params = list(getattr(command, 'params', ()))
    if hasattr(command, 'get_help_option'):  # made (and kept) on first use: make it now
        params.append(command.get_help_option(typer.Context(command)))
    for param in params:
        plain = _plain(param)
        if plain is not None:
            param._runtime_param = plain
            count += 1
    for sub in getattr(command, 'commands', {}).values():
        count += plain_coercion(sub)
    return count
