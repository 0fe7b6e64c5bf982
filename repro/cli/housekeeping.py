"""``repro du``, ``repro rm ID…`` and ``repro gc [--yes]``: disk use and clean-up."""
import json
from typing import List

import typer


def _engine_or_none():
    """The engine, or None with a note (the store and cache need none)."""
    from repro.engines.interface import connect_engine
    from repro.errors import EngineError
    try:
        return connect_engine()
    except EngineError as exc:
        typer.echo(f'note: images left out: {exc.message}', err=True)
        return None


def du(as_json: bool = typer.Option(False, '--json', help='print JSON')):
    """Show the store's and the cache's size by category, and the images repro built."""
    from repro.audit.housekeeping import disk_usage
    from repro.audit.render import usage_lines
    from repro.images.wheels import default_cache
    from repro.record.project import open_store
    usage = disk_usage(open_store(), _engine_or_none(), default_cache())
    typer.echo(json.dumps(usage, indent=2) if as_json else '\n'.join(usage_lines(usage)))


def rm(runs: List[str] = typer.Argument(..., help='run ids or unique prefixes'),
       force: bool = typer.Option(False, '--force', help='also runs that a replay or a '
                                                        'sweep refers to, or that still run')):
    """Remove runs (their sources stay until `repro gc`)."""
    from repro.audit.housekeeping import remove_runs
    from repro.record.project import open_store
    for run_id in remove_runs(open_store(), runs, force=force):
        typer.echo(f'removed {run_id}')


def gc(yes: bool = typer.Option(False, '--yes', help='free it (default: only say what)'),
       keep_images: int = typer.Option(2, '--keep-images', min=0,
                                       help='unused images to keep, the ones used last'),
       max_wheel_cache: str = typer.Option(
           None, '--max-wheel-cache', metavar='SIZE',
           help='trim the wheel cache to SIZE (e.g. 2G), least recently used first')):
    """Free images, sources and temporary files nothing uses (a dry run unless --yes)."""
    from repro.audit.housekeeping import collect, parse_size
    from repro.audit.render import gc_lines
    from repro.images.wheels import default_cache
    from repro.record.project import open_store
    limit = None if max_wheel_cache is None else parse_size(max_wheel_cache)
    collected = collect(open_store(), _engine_or_none(), default_cache(),
                        keep_images=keep_images, max_wheel_bytes=limit, apply=yes)
    typer.echo('\n'.join(gc_lines(collected)))
