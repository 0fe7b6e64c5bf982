"""``repro ls`` and ``repro show``: read the run store's manifests."""
import json

import typer


def ls(as_json: bool = typer.Option(False, '--json', help='print JSON, one object per run')):
    """List the runs in the store, oldest first."""
    from repro.errors import ReproError
    from repro.liveness import status_of
    from repro.project import open_store
    from repro.render import run_summary, runs_table
    store = open_store()
    summaries = []
    for run_id in store.run_ids():
        try:
            manifest = store.read_manifest(run_id)
            summaries.append(run_summary(manifest, status_of(manifest)))
        except ReproError:  # one broken run must not hide the others
            summaries.append(run_summary({'run_id': run_id, 'status': 'unreadable'}))
    typer.echo(json.dumps(summaries, indent=2) if as_json else runs_table(summaries))


def show(run: str = typer.Argument(..., help='run id or a unique prefix of one'),
         as_json: bool = typer.Option(False, '--json', help='print the manifest')):
    """Show one run; --json prints its manifest."""
    from repro.liveness import status_of
    from repro.manifest import render
    from repro.project import open_store
    from repro.render import manifest_summary
    store = open_store()
    manifest = store.read_manifest(store.resolve(run))
    typer.echo(render(manifest).rstrip() if as_json
               else manifest_summary(manifest, status_of(manifest)))
