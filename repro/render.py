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


def run_summary(manifest):
    """The fields ``repro ls`` shows for one run."""
    return {
        'run_id': manifest.get('run_id'),
        'status': manifest.get('status'),
        'seed': manifest.get('seed'),
        'launcher': manifest.get('launcher'),
        'start_time': manifest.get('start_time'),
        'duration': _duration(manifest),
        'commit': (manifest.get('git') or {}).get('commit'),
        'dirty': (manifest.get('git') or {}).get('dirty'),
        'replay_of': manifest.get('replay_of'),
    }


def runs_table(summaries):
    """A fixed-width table of run summaries, one line per run."""
    headers = ('RUN ID', 'STATUS', 'SEED', 'COMMIT', 'DURATION', 'LAUNCHER')
    rows = [(s['run_id'], s['status'] or '-', '-' if s['seed'] is None else str(s['seed']),
             (s['commit'] or '-')[:8] + ('*' if s['dirty'] else ''), s['duration'],
             s['launcher'] or '-') for s in summaries]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(headers)]
    line = '  '.join(f'{{:<{w}}}' for w in widths)
    return '\n'.join(line.format(*r).rstrip() for r in [headers, *rows])


def manifest_summary(manifest):
    """A short human-readable description of one run."""
    git = manifest.get('git') or {}
    image = manifest.get('image') or {}
    lines = [
        f"run       {manifest.get('run_id')}  ({manifest.get('status')})",
        f"launcher  {manifest.get('launcher')}  seed={manifest.get('seed')}  "
        f"args={' '.join(manifest.get('args') or []) or '-'}",
        f"git       {git.get('commit') or '-'}{' (dirty)' if git.get('dirty') else ''}"
        f"  tree {git.get('tree') or '-'}",
        f"image     {image.get('id') or '-'}  key {(image.get('key') or '-')[:16]}",
        f"times     {manifest.get('start_time')} -> {manifest.get('end_time') or '-'}",
        f"replay    {' '.join(manifest.get('replay') or []) or '-'}",
        f"artifacts {len(manifest.get('artifacts') or [])} files",
    ]
    lines += [f"  {a['sha256'][:12]}  {a['size']:>10}  {a['path']}"
              for a in manifest.get('artifacts') or []]
    return '\n'.join(lines)
