"""Comparing two runs' directories: the verdict of a replay.

Both directories were written by containers, so nothing here follows a
link, opens a FIFO or device, or unpickles (see :mod:`repro.core.safefs`).
Entries are paired by structure (:mod:`repro.audit.pairing`), then, by kind:

- links: by target string; FIFOs, sockets, devices: by kind only;
- ``*.csv``: value by value, row by row; TensorBoard event files: scalars by
  (tag, step); timing metrics are listed with their ranges, not compared
  (:mod:`repro.core.tables`, :mod:`repro.core.timing`);
- zip and tar archives whose bytes differ: by member names and bytes
  (:mod:`repro.core.archives`);
- pickles, and pickle members of archives, whose bytes differ: through the
  injected ``content`` callable (:func:`repro.contentcheck.in_image`);
- logs and metadata with wall-clock times, and the run's records
  (``manifest.json``, ``meta/``, the runtime report): listed, not compared;
  the attestation (``attestation.dsse.json``) is left out: only one side
  may be signed yet;
- anything else: by bytes.

``Comparison.to_json()`` returns this plain dict (strings escaped as in the
text report; numbers that are not finite as the strings "nan", "inf"...)::

    {"verdict": "REPRODUCED" | "DIVERGED" | "NOTHING COMPARED",
     "compared": 12,            # files, archive members and learned metrics compared
     "divergence_count": 2,
     "first_divergence": null | {"file": "outputs/progress.csv",
         "where": "row 2 (epoch 2)", "metric": "Return", "label": "metric",
         "step": 2, "original": "30", "replay": "31", "difference": 1.0,
         "text": "outputs/progress.csv, row 2 (epoch 2), metric Return: ..."},
     "divergences": [ ...all, same shape, first one first... ],
     "timing": [{"file": "...", "metric": "charts/SPS",
                 "original": {"min": 812.0, "max": 1040.0} | null, "replay": ...}],
     "report": ["identical: outputs/model.pt", ...]}
"""
import dataclasses
import math
import re

from repro.core import archives

from repro.core import safefs
from repro.errors import UntrustedFileError
from repro.store.manifest import ATTESTATION_NAME
from repro.audit.pairing import pair
from repro.core.safefs import display
from repro.core.timing import Timing, TimingRules
from repro.core.tables import (Divergence, close, compare_csv,  # noqa: F401
                          compare_events, compare_scalars, csv_rows, is_events, read_table)

LOGS = re.compile(r'(^|/)(debug\.log|stdout\.log|metadata\.json)$')
RECORDS = re.compile(r'^manifest\.json$|^meta/|(^|/)\.repro/determinism\.json$')
CHUNK = 1 << 20
_WORDS = {'identical': 'identical', 'unread': 'not a regular file, not read',
          'logs': 'not compared (wall-clock content)', 'values': 'equal values',
          'record': 'not compared (a record of the run, not an output)',
          'members': 'equal members', 'content': 'equal content',
          'empty': 'no learned values to compare (bytes differ)'}


def _unpaired_record(rel):
    """The attestation: an original may be signed before its replay is, so
    it is a record that one side lacks, not an output missing from the other."""
    return rel == ATTESTATION_NAME


def pair_files(original, replay, hostnames=(None, None)):
    """(pairs, only in original, only in replay); ambiguous entries count as unpaired."""
    found = pair(original, replay, hostnames)
    return (found.pairs, sorted(found.only_original + [p for a in found.ambiguous
                                                         for p in a.original]),
            sorted(found.only_replay + [p for a in found.ambiguous for p in a.replay]))


def kind_rank(path):
    """Metrics tables first, so the first divergence is the most readable."""
    if path.endswith('.csv'):
        return 0
    return 1 if is_events(path) else 2 if path.endswith(archives.PICKLES) else 3


@dataclasses.dataclass
class Outcome:
    """What one pair of entries came to: a report word and what it found."""
    word: str
    divergences: list = dataclasses.field(default_factory=list)
    timing: list = dataclasses.field(default_factory=list)
    compared: int = 0
    content: list = dataclasses.field(default_factory=list)  # pairs for ``content``


def same_bytes(root_a, rel_a, root_b, rel_b):
    """Whether two regular files hold equal bytes, read in chunks, stopping early."""
    with safefs.open_regular(root_a, rel_a) as fa, safefs.open_regular(root_b, rel_b) as fb:
        while True:
            block = fa.read(CHUNK)
            if block != fb.read(CHUNK):
                return False
            if not block:
                return True


def compare_entries(root_a, ea, root_b, eb, rtol=0.0, atol=0.0, timing=None):
    """The :class:`Outcome` of one pair of walked entries."""
    path = ea.rel
    if ea.kind != eb.kind:
        return Outcome('diverged', [Divergence(path, f'a {ea.kind} in the original, '
                                                     f'a {eb.kind} in the replay')])
    if ea.kind == 'link':
        return Outcome('identical') if ea.target == eb.target else Outcome(
            'diverged', [Divergence(path, 'link targets differ', '', ea.target, eb.target)])
    if ea.kind != 'file':
        return Outcome('unread')
    if RECORDS.search(path) or LOGS.search(path):
        return Outcome('record' if RECORDS.search(path) else 'logs')
    if ea.size == eb.size and same_bytes(root_a, ea.rel, root_b, eb.rel):
        return Outcome('identical', compared=1)
    if path.endswith('.csv') or is_events(path):
        return _table(root_a, ea.rel, root_b, eb.rel, rtol, atol, timing)
    with safefs.open_regular(root_a, ea.rel) as fa, safefs.open_regular(root_b, eb.rel) as fb:
        kinds = archives.kind_of(fa.read(archives.HEAD)), archives.kind_of(fb.read(archives.HEAD))
    if kinds[0] and kinds[1]:  # before pickles: torch.save writes zips, whatever the name
        timed = []
        found, count, pickles = archives.compare_archives(
            path, lambda: safefs.open_regular(root_a, ea.rel),
            lambda: safefs.open_regular(root_b, eb.rel), timing=timing, timed=timed)
        return Outcome('members', found, [Timing(path, name) for name in timed],
                       compared=count, content=[(ea.rel, eb.rel, name) for name in pickles])
    if path.endswith('.json'):
        return _json(root_a, ea.rel, root_b, eb.rel, timing)
    if path.endswith(archives.PICKLES):
        return Outcome('content', content=[(ea.rel, eb.rel)])
    return Outcome('diverged', [Divergence(path, 'bytes differ')], compared=1)


def _json(root_a, rel_a, root_b, rel_b, timing):
    """A JSON output by content: wall-clock fields reported, not compared."""
    from repro.core import jsoncompare
    data = [jsoncompare.load(safefs.read_bytes(root, rel, safefs.MAX_JSON))
            for root, rel in ((root_a, rel_a), (root_b, rel_b))]
    if data[0] is None or data[1] is None:
        return Outcome('diverged', [Divergence(rel_a, 'bytes differ')], compared=1)
    timed = []
    found = jsoncompare.difference(*data, timing or TimingRules(), timed=timed)
    divergences = [Divergence(rel_a, f'content differs at {found}')] if found else []
    return Outcome('values', divergences,
                   [Timing(rel_a, name) for name in jsoncompare.collapse(timed)], 1)


def _table(root_a, rel_a, root_b, rel_b, rtol, atol, timing):
    if rel_a.endswith('.csv'):
        try:
            texts = safefs.read_text(root_a, rel_a), safefs.read_text(root_b, rel_b)
        except UntrustedFileError as exc:
            return Outcome('diverged', [Divergence(rel_a, 'bytes differ, not compared as a '
                                                          f'table ({exc})')])
        found = compare_csv(rel_a, *texts, rtol, atol, timing)
    else:
        found = compare_events(rel_a, safefs.read_bytes(root_a, rel_a, safefs.MAX_TABLE),
                               safefs.read_bytes(root_b, rel_b, safefs.MAX_TABLE), rtol, atol,
                               timing)
    return Outcome('values', found.divergences, found.timing, found.compared)


@dataclasses.dataclass
class Comparison:
    """The verdict of comparing two runs' outputs (see the module doc for JSON)."""
    divergences: list  # [Divergence]: tables first, then by path
    report: list       # one line per entry, then the timing metrics
    timing: list       # [repro.core.timing.Timing]
    compared: int      # files, archive members and learned metrics compared

    @property
    def reproduced(self):
        return not self.divergences and self.compared > 0

    @property
    def nothing_compared(self):
        return not self.divergences and self.compared == 0

    @property
    def first(self):
        return self.divergences[0] if self.divergences else None

    @property
    def verdict(self):
        return 'DIVERGED' if self.divergences else \
            'NOTHING COMPARED' if self.nothing_compared else 'REPRODUCED'

    def to_json(self):
        items = [_divergence_json(d) for d in self.divergences]
        return {'verdict': self.verdict, 'compared': self.compared,
                'divergence_count': len(items), 'first_divergence': (items or [None])[0],
                'divergences': items, 'timing': [t.to_json() for t in self.timing],
                'report': list(self.report)}


def _divergence_json(d):
    return {'file': display(d.path), 'where': display(d.where),
            'metric': display(d.metric) if d.metric else None, 'label': d.label,
            'step': d.step, 'original': _json_value(d.original),
            'replay': _json_value(d.replay), 'difference': _json_value(d.difference),
            'text': str(d)}


def _json_value(value):
    if value is None or isinstance(value, bool) or isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    return display(value if isinstance(value, str) else repr(value))


def compare_outputs(dir_a, dir_b, rtol=0.0, atol=0.0, content=None, *, timing=None,
                    hostnames=(None, None)):
    """Compare two runs' directories into a :class:`Comparison`.

    ``content(pairs) -> {pair: difference text or None}`` is called once with
    the pickle pairs whose bytes differ: ``(rel_a, rel_b)``, or
    ``(rel_a, rel_b, member)`` for a pickle member of an archive. Without it
    they diverge, as unpickling on the host would run the container's code.
    ``hostnames`` are the two runs' recorded hostnames, wildcards in names.
    """
    unreadable = []
    walked = [{e.rel: e for e in safefs.walk(d, skip=_unpaired_record,
                                             onerror=unreadable.append)}
              for d in (dir_a, dir_b)]
    found = pair(walked[0], walked[1], hostnames)
    results = [(p, p, Outcome('diverged', [Divergence(p, 'unreadable directory, not '
                                                         'compared')]))
               for p in sorted(set(unreadable))]
    results += [(p, p, Outcome('diverged', [Divergence(p, 'missing from the replay')]))
                for p in found.only_original]
    results += [(p, p, Outcome('diverged', [Divergence(p, 'only in the replay')]))
                for p in found.only_replay]
    for group in found.ambiguous:
        why = Divergence(group.original[0], group.describe())
        results += [(p, p, Outcome('ambiguous', [why] if i == 0 else []))
                    for i, p in enumerate(group.original + group.replay)]
    for rel_a, rel_b in found.pairs:
        try:
            outcome = compare_entries(dir_a, walked[0][rel_a], dir_b, walked[1][rel_b],
                                      rtol, atol, timing)
        except UntrustedFileError as exc:  # e.g. too large, or replaced by a link
            outcome = Outcome('diverged', [Divergence(rel_a, f'not compared ({exc})')])
        results.append((rel_a, rel_b, outcome))
    _apply_content(results, content)
    return _assemble(results)


def _apply_content(results, content):
    """Turn each outcome's deferred pickle pairs into divergences or equal content."""
    asked = [p for _, _, outcome in results for p in outcome.content]
    if not asked:
        return
    answers = content(asked) if content is not None else {}
    for _, _, outcome in results:
        for pair_ in outcome.content:
            member = f'member {pair_[2]}, ' if len(pair_) > 2 else ''
            if content is None:
                text = 'bytes differ; content not compared on the host (unpickling ' \
                       'would run code from the run)'
            else:
                text = answers.get(pair_, 'content comparison gave no answer')
            outcome.compared += 1
            if text is not None:
                outcome.divergences.append(Divergence(pair_[0], f'{member}content: {text}'))


def _assemble(results):
    results.sort(key=lambda r: (kind_rank(r[0]), r[0]))
    divergences, report, timing, compared = [], [], [], 0
    for rel_a, rel_b, outcome in results:
        word = 'DIVERGED (ambiguous pairing)' if outcome.word == 'ambiguous' else \
            'DIVERGED' if outcome.divergences or outcome.word == 'diverged' else \
            _WORDS['empty' if outcome.word == 'values' and not outcome.compared
                   else outcome.word]
        paired = f' (replay: {display(rel_b)})' if rel_b != rel_a else ''
        report.append(f'{word}: {display(rel_a)}{paired}')
        divergences += outcome.divergences
        timing += outcome.timing
        compared += outcome.compared
    report += [str(t) for t in timing]
    return Comparison(divergences, report, timing, compared)
