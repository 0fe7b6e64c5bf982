"""Pure text rendering for the CLI: tables and summaries from manifests.

Every value shown comes from the run store, which a container (or anyone
who can write the store) controls: manifests may hold any JSON value in any
field. Every value therefore goes through :func:`escape`, so no name can
forge a row or a line, and rendering never raises on an odd type.
"""
import datetime
import json
import shlex

REASON_WIDTH = 60  # a broken run's reason is cut to this in `repro ls`
MORE = '…'  # marks a cut value


def escape(text):
    """``text`` with every character that could move the cursor, end a line
    or reorder the display written as a Python escape.

    That is what ``repr`` escapes (C0 and C1 controls, DEL, lone surrogates
    from undecodable file names, line and paragraph separators, bidi
    overrides and isolates, other format characters and non-ASCII spaces),
    plus the backslash itself, so two different names never look the same.
    A non-string is shown as its JSON text.
    """
    if not isinstance(text, str):
        text = _plain(text)
    if text.isprintable() and '\\' not in text:
        return text
    return ''.join(c if c.isprintable() and c != '\\' else
                   '\\\\' if c == '\\' else repr(c)[1:-1] for c in text)


def _plain(value):
    """Any value as text, never raising (a forged manifest may hold anything)."""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=repr)
    except (ValueError, TypeError, RecursionError):
        return f'<{type(value).__name__}>'


def _cell(value, width=None, more=''):
    """A value to show: '-' when absent or empty, cut to ``width`` characters
    and marked ``more`` if cut (before escaping, so no escape is cut in
    half), escaped."""
    if value is None or value == '':
        return '-'
    text = _plain(value)
    if width is not None and len(text) > width:
        text = text[:width] + more
    return escape(text)


def _words(value):
    """A command or argument list as shell words; anything else as text."""
    if not isinstance(value, list):
        return _cell(value)
    return ' '.join(shlex.quote(escape(_plain(v))) for v in value) or '-'


def _duration(manifest):
    try:
        start = datetime.datetime.fromisoformat(manifest['start_time'])
        end = datetime.datetime.fromisoformat(manifest['end_time'])
        seconds = int((end - start).total_seconds())  # naive minus aware: TypeError
    except (KeyError, TypeError, ValueError, OverflowError):
        return '-'
    return f'{seconds // 60}m{seconds % 60:02d}s' if seconds >= 0 else '-'


def _section(manifest, key):
    value = manifest.get(key)
    return value if isinstance(value, dict) else {}


def run_summary(manifest, status=None):
    """The fields ``repro ls`` shows for one run; ``status`` overrides the
    recorded one (``stale`` for a run whose repro process is gone). A
    ``broken`` run (one whose manifest cannot be read) carries its
    ``error``."""
    if not isinstance(manifest, dict):
        manifest = {}
    return {
        'run_id': manifest.get('run_id'),
        'status': status or manifest.get('status'),
        'seed': manifest.get('seed'),
        'launcher': manifest.get('launcher'),
        'start_time': manifest.get('start_time'),
        'duration': _duration(manifest),
        'commit': _section(manifest, 'git').get('commit'),
        'dirty': _section(manifest, 'git').get('dirty'),
        'replay_of': manifest.get('replay_of'),
        'error': manifest.get('error'),
    }


def _row(summary):
    s = summary if isinstance(summary, dict) else {}
    launcher = _cell(s.get('launcher'))
    if s.get('status') == 'broken' or (launcher == '-' and s.get('error')):
        # Nothing else is known about the run: say why, briefly.
        reason = _cell(s.get('error'), REASON_WIDTH, MORE)
        launcher = f"({_cell(s.get('status'))}: {reason})"
    return (_cell(s.get('run_id')), _cell(s.get('status')), _cell(s.get('seed')),
            _cell(s.get('commit'), 8) + ('*' if s.get('dirty') is True else ''),
            _cell(s.get('duration')), launcher)


def runs_table(summaries):
    """A fixed-width table of run summaries, one line per run."""
    return _table(('RUN ID', 'STATUS', 'SEED', 'COMMIT', 'DURATION', 'LAUNCHER'),
                  [_row(s) for s in summaries])


def _table(headers, rows):
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(headers)]
    line = '  '.join(f'{{:<{w}}}' for w in widths)
    return '\n'.join(line.format(*r).rstrip() for r in [headers, *rows])


def sweeps_table(sweeps):
    """``repro sweep status`` without an id: one line per sweep."""
    return _table(('SWEEP ID', 'ENGINE', 'MEMBERS', 'CREATED', 'LAUNCHER'),
                  [(_cell(s['sweep_id']), _cell(s.get('engine', 'broken')),
                    _cell(s.get('members', '')), _cell(s.get('created', '')),
                    _cell(s.get('launcher') or s.get('error'), 60, MORE)) for s in sweeps])


def sweep_table(record, rows):
    """``repro sweep status``: a header line, then one line per member."""
    counts = {}
    for row in rows:
        counts[row['status']] = counts.get(row['status'], 0) + 1
    head = (f"sweep {_cell(record.get('sweep_id'))}  {_cell(record.get('launcher'), 40, MORE)}"
            f"  engine {_cell(record.get('engine'))}  image {_cell(record.get('image'), 19)}  "
            + ', '.join(f'{n} {status}' for status, n in sorted(counts.items())))
    body = _table(('#', 'MEMBER', 'STATUS', 'NODE', 'RUN ID'),
                  [(str(r['index']), _cell(r['name'], 60, MORE), _cell(r['status']),
                    _cell(r['node']), _cell(r['run_id'])) for r in rows])
    return head + '\n' + body


def _artifact_lines(artifacts):
    if not isinstance(artifacts, list):
        return [f'artifacts {_cell(artifacts, 40, MORE)} (not a list)']
    lines = [f'artifacts {len(artifacts)} files']
    for a in artifacts:
        a = a if isinstance(a, dict) else {'path': a}
        lines.append(f"  {_cell(a.get('sha256'), 12)}  {_cell(a.get('size', '?')):>10}"
                     f"  {_cell(a.get('path'))}")
    return lines


def manifest_summary(manifest, status=None):
    """A short human-readable description of one run."""
    if not isinstance(manifest, dict):
        manifest = {}
    git = _section(manifest, 'git')
    image = _section(manifest, 'image')
    lines = [
        f"run       {_cell(manifest.get('run_id'))}  "
        f"({_cell(status or manifest.get('status'))})",
        f"launcher  {_cell(manifest.get('launcher'))}  seed={_cell(manifest.get('seed'))}  "
        f"args={_words(manifest.get('args'))}",
        f"git       {_cell(git.get('commit'))}{' (dirty)' if git.get('dirty') is True else ''}"
        f"  tree {_cell(git.get('tree'))}",
        f"image     {_cell(image.get('id'))}  key {_cell(image.get('key'), 16)}",
        f"times     {_cell(manifest.get('start_time'))} -> {_cell(manifest.get('end_time'))}",
        f"replay    {_words(manifest.get('replay'))}",
    ]
    if manifest.get('error'):
        lines.append(f"error     {_cell(manifest.get('error'))}")
    return '\n'.join(lines + _artifact_lines(manifest.get('artifacts')))


def verdict_lines(verdict):
    """What ``repro replay`` prints after the run (pure, given a Verdict).

    The report, the timing metrics (reported, not compared), the host
    warnings, then the verdict line: the first divergence and how many more.
    """
    comparison = verdict.comparison
    lines = [ln for ln in comparison.report if not ln.startswith('identical: ')]
    lines += [f'warning: host {escape(w)}' for w in verdict.host_warnings]
    lines += [f'original failed verification: {escape(p)}' for p in verdict.verification]
    lines.append(f'run {escape(verdict.replay)} {escape(verdict.status)} '
                 f'(replay of {escape(verdict.original)})')
    if comparison.divergences:
        more = len(comparison.divergences) - 1
        lines.append(f'DIVERGED: {comparison.first}'
                     + (f' (and {more} more divergence{"s" * (more > 1)})' if more else ''))
    elif comparison.nothing_compared:
        lines.append('NOTHING COMPARED: the outputs hold only logs, records or timing '
                     'metrics, so nothing proves the run')
    elif verdict.verification:
        lines.append(f'UNVERIFIED ORIGINAL: the outputs match, but the original failed '
                     f'verification ({len(verdict.verification)} problem(s))')
    else:
        note = ' (on a different host: see warnings)' if verdict.host_warnings else ''
        lines.append(f'REPRODUCED: {comparison.compared} compared items matched{note}')
    return lines


def size(n):
    """Bytes for people, in decimal units as docker shows them: ``1.2 GB``."""
    for unit in ('B', 'kB', 'MB', 'GB', 'TB'):
        if n < 1000 or unit == 'TB':
            return f'{n:.0f} {unit}' if unit == 'B' or n >= 9.95 else f'{n:.1f} {unit}'
        n /= 1000
    return None


def usage_lines(usage):
    """``repro du``: the store's and the cache's sizes, then the images repro built."""
    lines = [f'store {escape(usage["store"])}']
    lines += [f'  {name:<18} {count:>6}  {size(total):>9}'
              for name, (count, total) in usage['store_usage'].items()]
    lines.append(f'cache {escape(usage["cache"])}')
    lines += [f'  {name:<18} {count:>6}  {size(total):>9}'
              for name, (count, total) in usage['cache_usage'].items()]
    if usage['images'] is None:
        return lines + ['images: not listed (no engine)']
    lines.append(f'images repro built: {len(usage["images"])} (sizes include the layers '
                 'they share)')
    rows = [[i['id'][:19], ', '.join(i['tags']) or '-', size(i['size']),
             f'{len(i["runs"])} run(s): ' + ', '.join(i['runs'][:3])
             + (f', {MORE}' if len(i['runs']) > 3 else '') if i['runs'] else 'no run']
            for i in usage['images']]
    lines += ['  ' + line for line in _table(['IMAGE', 'TAG', 'SIZE', 'USED BY'], rows)
              .splitlines()] if rows else []
    lines += [f'warning: {escape(p)}' for p in usage['problems']]
    return lines


def gc_lines(collected):
    """``repro gc``: what it frees (or would), by category, and what it kept whole."""
    sizes = {}
    for category, _path, nbytes in collected.items:
        count, total = sizes.get(category, (0, 0))
        sizes[category] = (count + 1, total + nbytes)
    if collected.images:
        sizes['images'] = (len(collected.images), collected.image_bytes)
    if collected.compacted:
        sizes[f'packs compacted ({collected.compacted} into 1)'] = (
            collected.compacted, collected.compact_bytes)
    verb = 'freed' if collected.applied else 'would free'
    lines = [f'{verb} {size(collected.total)}' + ('' if collected.applied else
                                                 ' (a dry run: `repro gc --yes` frees it)')]
    lines += [f'  {name:<32} {count:>6}  {size(total):>9}'
              for name, (count, total) in sorted(sizes.items())]
    lines += [f'  image {i["id"][:19]} {escape(", ".join(i["tags"]))}'.rstrip()
              for i in collected.images]
    lines += [f'kept every source, object and image: {escape(p)}' for p in collected.skipped]
    lines += [f'warning: {escape(e)}' for e in collected.errors]
    return lines
