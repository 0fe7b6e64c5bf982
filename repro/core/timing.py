"""Which metrics are wall-clock quantities: reported by a replay, never compared.

Training scripts log how fast they ran next to what they learned: cleanrl's
``charts/SPS``, stable-baselines3's ``time/fps`` and ``time/time_elapsed``,
garage's ``Time``/``EpochTime``/``ItrTime``, rllib's ``time_this_iter_s``,
``timers/*`` and ``timestamp``, tianshou's ``timing/*``. Those differ on
every run, so comparing them would make every replay DIVERGED.

A name (a CSV column or a TensorBoard tag) is timing when, ignoring case:

- its last ``/`` component matches one of :data:`TIMING` (a pattern without
  ``/`` is matched against the last component, one with ``/`` against the
  whole name, as in ``.gitignore``); or
- it lies under one of :data:`GROUPS` (``time/*``, ``timers/*``...) and its
  last component is not a counter (:data:`COUNTERS`): sb3's
  ``time/total_timesteps``, ``time/iterations`` and ``time/episodes`` count
  learning progress and are compared.

``TimingRules(extra_globs=...)`` adds the user's globs (same matching);
``compare_all=True`` turns all of it off.
"""
import dataclasses
import fnmatch
import math

from repro.errors import ConfigError

TIMING = (
    'fps', '*_fps', '*/fps', 'sps', '*_sps', '*/sps',      # frames / steps per second
    '*steps_per_sec*', '*per_sec', '*per_second*', '*throughput*',
    'time', '*time', 'time_*', '*time_s', '*time_ms', '*time_us', '*time_sec*',
    '*elapsed*', '*wall_time*', '*walltime*', '*wall_clock*', '*timestamp*', 'date',
)
GROUPS = ('time/*', 'timers/*', 'timing/*', 'perf/*', '*_perf/*')
COUNTERS = ('*steps*', '*iterations', '*iters', '*episodes', '*updates', '*epochs',
            '*samples')


def _match(name, patterns):
    low, last = name.lower(), name.lower().rsplit('/', 1)[-1]
    return any(fnmatch.fnmatchcase(low if '/' in p else last, p.lower()) for p in patterns)


@dataclasses.dataclass(frozen=True)
class TimingRules:
    """Which names are timing: the built-in list plus ``extra_globs``, or none
    at all with ``compare_all``."""
    extra_globs: tuple = ()
    compare_all: bool = False

    def __post_init__(self):
        globs = (self.extra_globs,) if isinstance(self.extra_globs, str) else self.extra_globs
        for glob in globs:
            if not isinstance(glob, str) or not glob.strip():
                raise ConfigError(f'invalid timing glob {glob!r}: use a non-empty pattern '
                                  'such as "charts/SPS" or "*_time"')
        object.__setattr__(self, 'extra_globs', tuple(globs))

    def is_timing(self, name):
        """Whether metric ``name`` is a wall-clock quantity (pure)."""
        if self.compare_all:
            return False
        if _match(name, TIMING) or _match(name, self.extra_globs):
            return True
        return _match(name, GROUPS) and not _match(name, COUNTERS)


@dataclasses.dataclass(frozen=True)
class Timing:
    """A timing metric of one file, with the range of its values on each side
    (None where a side has no numeric value)."""
    path: str
    name: str
    original: tuple = None
    replay: tuple = None

    def __str__(self):
        from repro.core.safefs import display
        return (f'timing, not compared: {display(self.name)} (original '
                f'{_span(self.original)}, replay {_span(self.replay)}) in {display(self.path)}')

    def to_json(self):
        from repro.core.safefs import display
        return {'file': display(self.path), 'metric': display(self.name),
                'original': _json_range(self.original), 'replay': _json_range(self.replay)}


def value_range(values):
    """(min, max) of the finite numbers among ``values`` (strings parsed), or None."""
    numbers = []
    for value in values:
        try:
            number = float(value)
        except (TypeError, ValueError):
            continue
        if math.isfinite(number):
            numbers.append(number)
    return (min(numbers), max(numbers)) if numbers else None


def _span(pair):
    return '-' if pair is None else f'{pair[0]:g}\u2013{pair[1]:g}'


def _json_range(pair):
    return None if pair is None else {'min': pair[0], 'max': pair[1]}
