"""Pairing the original's outputs with the replay's by structure (pure).

Scripts put the wall clock and the host in names: cleanrl's
``runs/{env}__{exp}__{seed}__{int(time.time())}/``, torch's default
``runs/Nov24_02-10-00_<host>/``, TensorBoard's
``events.out.tfevents.<time>.<host>.<pid>.<n>``. So, after equal paths have
paired, a path's *key* wildcards only what cannot be learned content:

- time-like tokens: Unix seconds (10 digits, 1e9 to 4e9) and milliseconds
  (13 digits), ISO-like date-times (``2026-11-24T02:10:00``,
  ``2026-11-24_02-10-00``, ``20261124-021000``, ``20261124T021000``, with
  fractional seconds, ``Z`` or an offset), ``YYYY-MM-DD`` dates and torch's
  ``Nov24_02-10-00``;
- the recorded hostname of each side, as a whole token; and the time and
  host fields of a TensorBoard event file name (old runs did not record the
  hostname, which was then a random container id).

Other digits are not wildcards: ``itr_1.pkl`` never pairs with ``itr_2.pkl``.
A key with exactly one entry on each side pairs them; a key with more on
either side is ambiguous, and those entries diverge with the reason.
"""
import dataclasses
import re

from repro.core.safefs import display

TIME, HOST = '<time>', '<host>'
# Fractions: .123, ,5, or strftime's -%f (six digits after a dash).
_FRACTION_ZONE = r'(?:[.,]\d{1,9}|-\d{6}(?!\d))?(?:Z|[+-]\d{2}:?\d{2}(?!\d))?'
_TIME_TOKENS = [re.compile(p) for p in (
    # date-times, separated (2026-11-24T02:10:00, 2026_11_24_02_10_00, 2026-11-24/02-10-00)
    r'(?<!\d)(?:19|20)\d\d([-_])[01]\d\1[0-3]\d[T_ /-][0-2]\d([-:_])[0-5]\d\2[0-5]\d'
    + _FRACTION_ZONE,
    # compact (20261124-021000, 20261124T021000, 20261124_021000)
    r'(?<!\d)(?:19|20)\d\d[01]\d[0-3]\d[-T_]?[0-2]\d[0-5]\d[0-5]\d(?!\d)' + _FRACTION_ZONE,
    r'(?<!\d)(?:19|20)\d\d-[01]\d-[0-3]\d(?!\d)',                       # a date
    r'(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[0-3]\d_[0-2]\d-[0-5]\d-[0-5]\d',
    r'(?<!\d)[1-3]\d{12}(?!\d)',                                         # Unix ms
    r'(?<!\d)[1-3]\d{9}(?!\d)',                                          # Unix s
)]
_EVENTS = re.compile(r'^(events\.out\.tfevents\.)\d+\.(.+)\.(\d+\.\d+.*)$')


def structure_key(path, hostname=None):
    """``path`` with time-like tokens and ``hostname`` wildcarded (pure)."""
    parts = path.split('/')
    match = _EVENTS.match(parts[-1])
    if match:
        parts[-1] = f'{match[1]}{TIME}.{HOST}.{match[3]}'
    key = '/'.join(parts)
    if hostname:
        key = re.sub(rf'(?<![A-Za-z0-9]){re.escape(hostname)}(?![A-Za-z0-9])', HOST, key)
    for token in _TIME_TOKENS:
        key = token.sub(TIME, key)
    return key


@dataclasses.dataclass(frozen=True)
class Ambiguous:
    """Entries of both sides that share a key, more than one on some side."""
    key: str
    original: tuple
    replay: tuple

    def describe(self):
        """Why these entries are not compared (raw: :func:`display` it to print)."""
        return (f'ambiguous pairing: {len(self.original)} file(s) in the original and '
                f'{len(self.replay)} in the replay match {self.key}')

    def __str__(self):
        return display(self.describe())


@dataclasses.dataclass(frozen=True)
class Pairing:
    pairs: list          # [(original path, replay path)], sorted by original path
    only_original: list  # missing from the replay
    only_replay: list
    ambiguous: list      # [Ambiguous]


def pair(original, replay, hostnames=(None, None)):
    """Pair two collections of relative paths: equal paths, then unique keys (pure)."""
    same = set(original) & set(replay)
    pairs = [(p, p) for p in same]
    by_key = {}
    for side, paths in ((0, original), (1, replay)):
        for path in sorted(set(paths) - same):
            by_key.setdefault(structure_key(path, hostnames[side]), ([], []))[side].append(path)
    only_original, only_replay, ambiguous = [], [], []
    for key in sorted(by_key):
        a, b = by_key[key]
        if len(a) == 1 and len(b) == 1:
            pairs.append((a[0], b[0]))
        elif a and b:
            ambiguous.append(Ambiguous(key, tuple(a), tuple(b)))
        else:
            only_original.extend(a)
            only_replay.extend(b)
    return Pairing(sorted(pairs), sorted(only_original), sorted(only_replay), ambiguous)
