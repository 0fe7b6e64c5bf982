"""The seed in a plain script's arguments (pure).

repro's ``--seed`` seeds what repro controls; a third-party script seeds
itself from its own flag. ``repro run ppo.py --seed 3 -- --seed {seed}``
hands it the same number, and a flag that disagrees with the recorded seed
is worth a warning: the manifest would record a seed the script never used.

Only exact tokens like ``{seed}`` are replaced (not ``str.format``:
arguments often hold JSON or other braces); ``{{seed}}`` is a literal
``{seed}``. A sweep fills ``{name}`` and its grid keys the same way.
"""
import re

from repro.core.safefs import display

# Flags a script may seed itself from; only long forms: `-s` means too many things.
SEED_FLAGS = ('--seed', '--random-seed', '--random_seed')


def expand(args, values):
    """``args`` with every ``{key}`` of ``values`` replaced by its value and
    ``{{key}}`` by a literal ``{key}``; other braces are left alone."""
    if not values:
        return list(args)
    names = '|'.join(re.escape(k) for k in sorted(values, key=len, reverse=True))
    token = re.compile(r'\{\{(' + names + r')\}\}|\{(' + names + r')\}')

    def replace(match):
        if match.group(1) is not None:
            return '{' + match.group(1) + '}'
        return str(values[match.group(2)])
    return [token.sub(replace, arg) for arg in args]


def placeholders(args, keys):
    """The ``keys`` that appear as ``{key}`` in ``args`` (escaped ones do not count)."""
    return {k for k in keys for arg in args
            if '{' + k + '}' in arg.replace('{{' + k + '}}', '')}


def expand_seed(args, seed):
    """``args`` with every ``{seed}`` replaced by ``seed`` and ``{{seed}}`` by ``{seed}``."""
    return expand(args, {'seed': seed})


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
