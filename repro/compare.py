"""Comparing two runs' outputs: the verdict of a replay.

Both directories were written by containers, so nothing here follows a
link, opens a FIFO or device, or unpickles (see :mod:`repro.safefs`).
Entries are paired by *structure*: digit runs in names (timestamps, pids)
are wildcards, so ``events.out.tfevents.1795491604.repro.1.0`` pairs with
the replay's file of the same shape. Then, by kind:

- links: by target string; FIFOs, sockets, devices: by kind only;
- ``*.csv``: value by value, row by row (tolerance with ``rtol``/``atol``);
- TensorBoard event files: scalars by (tag, step);
- pickles: by content, but only through the injected ``content`` callable
  (:func:`repro.contentcheck.in_image` unpickles inside the run's image);
- logs and metadata with wall-clock times: listed, not compared;
- anything else: by bytes.

The first divergence names the file, the row/epoch or step, the metric and
the two values.
"""
import re

from repro import safefs
from repro.errors import UntrustedFileError
from repro.safefs import display
from repro.tables import (Divergence, close, compare_csv, compare_events,  # noqa: F401
                          compare_scalars, csv_rows, is_events, read_table)

VOLATILE = re.compile(r'(^|/)(debug\.log|stdout\.log|metadata\.json)$|^manifest\.json$')
PICKLES = ('.pkl', '.pickle')
CHUNK = 1 << 20


def structure_key(path):
    """A path with digit runs replaced, to pair run-specific names (pure)."""
    return re.sub(r'\d+', '#', path)


def pair_files(original, replay):
    """Pairs (original, replay) by structure, plus the unpaired on each side."""
    by_key = {}
    for side, paths in ((0, original), (1, replay)):
        for path in sorted(paths):
            by_key.setdefault(structure_key(path), ([], []))[side].append(path)
    pairs, only_original, only_replay = [], [], []
    for key in sorted(by_key):
        a, b = by_key[key]
        pairs.extend(zip(a, b))
        only_original.extend(a[len(b):])
        only_replay.extend(b[len(a):])
    return pairs, only_original, only_replay


def _kind_rank(path):
    """Metrics tables first, so the reported divergence is the most readable."""
    if path.endswith('.csv'):
        return 0
    if is_events(path):
        return 1
    return 2 if path.endswith(PICKLES) else 3


def same_bytes(root_a, rel_a, root_b, rel_b):
    """Whether two regular files hold equal bytes, read in chunks, stopping early."""
    with safefs.open_regular(root_a, rel_a) as fa, safefs.open_regular(root_b, rel_b) as fb:
        while True:
            block = fa.read(CHUNK)
            if block != fb.read(CHUNK):
                return False
            if not block:
                return True


def compare_entries(root_a, ea, root_b, eb, rtol=0.0, atol=0.0):
    """'identical', 'content' (pickles whose bytes differ), or a Divergence/None
    with the report word, for one pair of walked entries."""
    path = ea.rel
    if ea.kind != eb.kind:
        return Divergence(path, f'a {ea.kind} in the original, a {eb.kind} in the replay')
    if ea.kind == 'link':
        return 'identical' if ea.target == eb.target else \
            Divergence(path, 'link targets differ', '', ea.target, eb.target)
    if ea.kind != 'file':
        return 'unread'
    if VOLATILE.search(path):
        return 'volatile'
    if ea.size == eb.size and same_bytes(root_a, ea.rel, root_b, eb.rel):
        return 'identical'
    if path.endswith(PICKLES):
        return 'content'
    if path.endswith('.csv'):
        try:
            return compare_csv(path, safefs.read_text(root_a, ea.rel),
                               safefs.read_text(root_b, eb.rel), rtol, atol)
        except UntrustedFileError as exc:
            return Divergence(path, f'bytes differ, not compared as a table ({exc})')
    if is_events(path):
        return compare_events(path, safefs.read_bytes(root_a, ea.rel, safefs.MAX_TABLE),
                              safefs.read_bytes(root_b, eb.rel, safefs.MAX_TABLE), rtol, atol)
    return Divergence(path, 'bytes differ')


_WORDS = {'identical': 'identical', 'unread': 'not a regular file, not read',
          'volatile': 'not compared (wall-clock content)'}


def compare_outputs(dir_a, dir_b, rtol=0.0, atol=0.0, content=None):
    """Compare two runs' directories; returns (first divergence or None, report lines).

    ``content(pairs) -> {rel_a: difference text or None}`` is called once
    with the (rel_a, rel_b) pickle pairs whose bytes differ; without it they
    diverge, as unpickling on the host would run the container's code.
    """
    unreadable = []
    walked = [{e.rel: e for e in safefs.walk(d, onerror=unreadable.append)}
              for d in (dir_a, dir_b)]
    pairs, only_a, only_b = pair_files(walked[0], walked[1])
    results = [(path, Divergence(path, 'unreadable directory, not compared'))
               for path in sorted(set(unreadable))]
    results += [(path, Divergence(path, 'missing from the replay')) for path in only_a]
    results += [(path, Divergence(path, 'only in the replay')) for path in only_b]
    deferred = []
    for rel_a, rel_b in sorted(pairs, key=lambda p: (_kind_rank(p[0]), p[0])):
        try:
            outcome = compare_entries(dir_a, walked[0][rel_a], dir_b, walked[1][rel_b],
                                      rtol, atol)
        except UntrustedFileError as exc:  # e.g. too large, or replaced by a link
            outcome = Divergence(rel_a, f'not compared ({exc})')
        if outcome == 'content':
            deferred.append((rel_a, rel_b))
        results.append((rel_a, outcome))
    verdicts = content_verdicts(deferred, content)
    first, report = None, []
    for path, outcome in results:
        outcome = verdicts.get(path, outcome)
        if isinstance(outcome, str):
            report.append(f'{_WORDS[outcome]}: {display(path)}')
            continue
        report.append(f'{"equal content" if outcome is None else "DIVERGED"}: {display(path)}')
        first = first or outcome
    return first, report


def content_verdicts(pairs, content):
    """{rel_a: Divergence or None} for pickle pairs whose bytes differ."""
    if not pairs:
        return {}
    if content is None:
        return {a: Divergence(a, 'bytes differ; content not compared on the host '
                                 '(unpickling would run code from the run)') for a, _ in pairs}
    found = content(pairs)
    out = {}
    for rel_a, _rel_b in pairs:
        text = found.get(rel_a, 'content comparison gave no answer')
        out[rel_a] = None if text is None else Divergence(rel_a, f'content: {text}')
    return out
