"""Pure text rendering for the CLI: tables and summaries from manifests."""
import datetime


def _duration(manifest):
    try:
        start = datetime.datetime.fromisoformat(manifest['start_time'])
        end = datetime.datetime.fromisoformat(manifest['end_time'])
    except (KeyError, TypeError, ValueError):
        return '-'
    seconds = int((end - start).total_seconds())
    return f'{seconds // 60}m{seconds % 60:02d}s'


def _section(manifest, key):
    value = manifest.get(key)
    return value if isinstance(value, dict) else {}


def run_summary(manifest, status=None):
    """The fields ``repro ls`` shows for one run; ``status`` overrides the
    recorded one (``stale`` for a run whose repro process is gone)."""
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
    }


def runs_table(summaries):
    """A fixed-width table of run summaries, one line per run."""
    headers = ('RUN ID', 'STATUS', 'SEED', 'COMMIT', 'DURATION', 'LAUNCHER')
    rows = [(str(s['run_id']), str(s['status'] or '-'),
             '-' if s['seed'] is None else str(s['seed']),
             str(s['commit'] or '-')[:8] + ('*' if s['dirty'] else ''), s['duration'],
             str(s['launcher'] or '-')) for s in summaries]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(headers)]
    line = '  '.join(f'{{:<{w}}}' for w in widths)
    return '\n'.join(line.format(*r).rstrip() for r in [headers, *rows])


def manifest_summary(manifest, status=None):
    """A short human-readable description of one run."""
    git = _section(manifest, 'git')
    image = _section(manifest, 'image')
    lines = [
        f"run       {manifest.get('run_id')}  ({status or manifest.get('status')})",
        f"launcher  {manifest.get('launcher')}  seed={manifest.get('seed')}  "
        f"args={' '.join(manifest.get('args') or []) or '-'}",
        f"git       {git.get('commit') or '-'}{' (dirty)' if git.get('dirty') else ''}"
        f"  tree {git.get('tree') or '-'}",
        f"image     {image.get('id') or '-'}  key {(image.get('key') or '-')[:16]}",
        f"times     {manifest.get('start_time')} -> {manifest.get('end_time') or '-'}",
        f"replay    {' '.join(manifest.get('replay') or []) or '-'}",
        f"artifacts {len(manifest.get('artifacts') or [])} files",
    ]
    lines += [f"  {str(a.get('sha256'))[:12]}  {a.get('size', '?'):>10}  {a.get('path')}"
              for a in manifest.get('artifacts') or [] if isinstance(a, dict)]
    return '\n'.join(lines)
