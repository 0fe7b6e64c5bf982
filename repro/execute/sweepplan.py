"""A sweep's members from ``--seeds``, ``--grid`` and the arguments (pure).

A sweep is the Cartesian product of its grid points, each run once per
seed: member ``i`` is grid point ``i // len(seeds)`` with seed
``seeds[i % len(seeds)]``, so members of one grid point sit side by side.
Each member's arguments are the ones written with ``{seed}``, ``{name}``
and every ``{key}`` of the grid filled in; a grid key that appears nowhere
in the arguments is passed as ``--key value`` at the end, which is what
argparse-style scripts expect.
"""
import dataclasses
import itertools
import re
from typing import Tuple

from repro import contract
from repro.core import safefs
from repro.core.safefs import display
from repro.errors import ConfigError
from repro.execute.launchargs import expand, placeholders

MAX_MEMBERS = 10_000   # above this a sweep needs --yes: it is probably a typo
LIMIT = 100_000        # the most members a sweep record holds
_KEY = re.compile(r'[A-Za-z_][A-Za-z0-9_.-]*')
_RANGE = re.compile(r'([0-9]+)-([0-9]+)')
RESERVED = ('seed', 'name')


@dataclasses.dataclass(frozen=True)
class Member:
    """One run of a sweep: its index, seed and grid point."""
    index: int
    seed: int
    params: Tuple[Tuple[str, str], ...] = ()

    @property
    def name(self):
        """A readable label, unique within the sweep: ``lr=1e-3,s0``."""
        return ','.join([*(f'{k}={v}' for k, v in self.params), f's{self.seed}'])

    def record(self):
        """The manifest's ``sweep`` section, less the sweep id."""
        return {'index': self.index, 'params': dict(self.params)}


def parse_seeds(text):
    """``'0-9'``, ``'1,3,5'`` or ``'0-4,10'`` as a tuple of seeds, in order."""
    seeds = []
    for part in (text or '').split(','):
        part = part.strip()
        bounds = _RANGE.fullmatch(part)
        if bounds:
            low, high = int(bounds.group(1)), int(bounds.group(2))
            if low > high:
                raise ConfigError(f'--seeds: range {part} runs backwards', f'write {high}-{low}')
            if high - low >= MAX_MEMBERS * 10:
                raise ConfigError(f'--seeds: range {part} is too large')
            seeds.extend(range(low, high + 1))
        elif part.isascii() and part.isdigit():
            seeds.append(int(part))
        else:
            raise ConfigError(f'--seeds: {display(part) or "an empty item"} is not a seed or '
                              'a range', "write seeds like '0-9' or '1,3,5'")
    too_big = [s for s in seeds if s > contract.MAX_SEED]
    if too_big:
        raise ConfigError(f'--seeds: {too_big[0]} is above the largest seed {contract.MAX_SEED}')
    repeated = sorted(s for s, n in _counts(seeds).items() if n > 1)
    if repeated:
        raise ConfigError(f'--seeds: seed {repeated[0]} is listed twice')
    return tuple(seeds)


def _counts(items):
    counts = {}
    for item in items:
        counts[item] = counts.get(item, 0) + 1
    return counts


def parse_grid(specs):
    """``['lr=1e-3,3e-4', 'batch=32,64']`` as ``(('lr', ('1e-3', '3e-4')), …)``."""
    grid, seen = [], set()
    for spec in specs or ():
        key, eq, values = spec.partition('=')
        key = key.strip()
        if not eq or not _KEY.fullmatch(key):
            raise ConfigError(f'--grid: {display(spec)} is not KEY=V1,V2,…',
                              "write it like 'lr=1e-3,3e-4'")
        if key in RESERVED:
            raise ConfigError(f'--grid: {key} is reserved', 'use --seeds for seeds'
                              if key == 'seed' else 'pick another name')
        if key in seen:
            raise ConfigError(f'--grid: {key} is given twice', 'list all its values in one --grid')
        items = tuple(v.strip() for v in values.split(','))
        if not all(items):
            raise ConfigError(f'--grid: {key} has an empty value')
        if not all(safefs.is_utf8(v) and '\0' not in v for v in items):
            raise ConfigError(f'--grid: a value of {key} is not UTF-8 text')
        if len(set(items)) != len(items):
            raise ConfigError(f'--grid: {key} lists a value twice')
        seen.add(key)
        grid.append((key, items))
    return tuple(grid)


def members(seeds, grid):
    """Every member: grid points in the order given, seeds within each."""
    if not seeds:
        raise ConfigError('--seeds: no seeds given', "write seeds like '0-9'")
    keys = [k for k, _ in grid]
    points = itertools.product(*(values for _, values in grid))
    return tuple(Member(i, seed, tuple(zip(keys, point)))
                 for i, (point, seed) in enumerate(itertools.product(points, seeds)))


def count(seeds, grid):
    """How many members ``members(seeds, grid)`` makes, without making them."""
    n = len(seeds)
    for _, values in grid:
        n *= len(values)
    return n


def member_args(args, member):
    """The arguments ``member`` gets: placeholders filled, unused grid keys appended."""
    values = {'seed': member.seed, 'name': member.name, **dict(member.params)}
    used = placeholders(args, [k for k, _ in member.params])
    extra = [x for k, v in member.params if k not in used for x in (f'--{k}', v)]
    return [*expand(args, values), *extra]
