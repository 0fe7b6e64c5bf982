"""The seed in a plain script's arguments (pure).

repro's ``--seed`` seeds what repro controls; a third-party script seeds
itself from its own flag. ``repro run ppo.py --seed 3 -- --seed {seed}``
hands it the same number, and a flag that disagrees with the recorded seed
is worth a warning: the manifest would record a seed the script never used.

Only the exact token ``{seed}`` is replaced (not ``str.format``: arguments
often hold JSON or other braces); ``{{seed}}`` is a literal ``{seed}``.
"""
import re

from repro.core.safefs import display

_TOKEN = re.compile(r'\{\{seed\}\}|\{seed\}')
# Flags a script may seed itself from; only long forms: `-s` means too many things.
SEED_FLAGS = ('--seed', '--random-seed', '--random_seed')


def expand_seed(args, seed):
    """``args`` with every ``{seed}`` replaced by ``seed`` and ``{{seed}}`` by ``{seed}``."""
    def replace(match):
        return '{seed}' if match.group() == '{{seed}}' else str(seed)
    return [_TOKEN.sub(replace, arg) for arg in args]


def seed_flags(args):
    """(flag, value, joined with '=') of every seed flag, up to a bare ``--``."""
    found = []
    for i, arg in enumerate(args):
        if arg == '--':  # what follows is positional for argparse
            break
        flag, eq, value = arg.partition('=')
        if flag not in SEED_FLAGS:
            continue
        if eq:
            found.append((flag, value, True))
        elif i + 1 < len(args):
            found.append((flag, args[i + 1], False))
    return found


def _same_seed(value, seed):
    try:
        return int(value) == int(seed)
    except ValueError:
        return False


def seed_conflicts(args, seed):
    """One-line warnings for seed flags whose value is not ``seed``.

    ``args`` are the arguments as written: ``{seed}`` is expanded here, so
    ``--seed {seed}`` never warns.
    """
    warnings = []
    for flag, value, joined in seed_flags(expand_seed(args, seed)):
        if _same_seed(value, seed):
            continue
        sep = '=' if joined else ' '
        warnings.append(f'the script gets {flag}{sep}{display(value)} but repro records '
                        f'seed {seed}; pass {flag}{sep}{{seed}}')
    return warnings
