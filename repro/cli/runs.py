"""``repro ls`` and ``repro show``: read the run store's manifests."""
import json

import typer


def ls(as_json: bool = typer.Option(False, '--json', help='print JSON, one object per run'),
       sweep: str = typer.Option(None, '--sweep', help="only this sweep's member runs")):
    """List the runs in the store, oldest first."""
    from repro.engines.liveness import status_of
    from repro.store.manifest_loader import read
    from repro.record.project import open_store
    from repro.audit.render import run_summary, runs_table
    store = open_store()
    summaries = []
    if sweep is not None:
        from repro.execute.sweepruns import member_runs
        run_ids = member_runs(store, sweep)[1]
    else:
        run_ids = store.run_ids()
    for run_id in run_ids:
        manifest, problems = read(store, run_id)
        if manifest is None or problems:  # one broken run must not hide the others
            summaries.append(run_summary({'run_id': run_id, 'status': 'broken',
                                          'error': problems[0]}))
        else:
            summaries.append(run_summary(manifest, status_of(manifest)))
    typer.echo(json.dumps(summaries, indent=2) if as_json else runs_table(summaries))


def show(run: str = typer.Argument(..., help='run id or a unique prefix of one'),
         as_json: bool = typer.Option(False, '--json', help='print the manifest')):
    """Show one run; --json prints its manifest."""
    from repro.errors import StoreError
    from repro.engines.liveness import status_of
    from repro.store.manifest import render
    from repro.store.manifest_loader import read
    from repro.record.project import open_store
    from repro.audit.render import manifest_summary
    store = open_store()
    run_id = store.resolve(run)
    manifest, problems = read(store, run_id)
    if manifest is None:
        raise StoreError(f'run {run_id} has a broken manifest: {problems[0]}')
    for problem in problems:  # edited: shown, but never silently
        typer.echo(f'UNVERIFIED: {problem}; nothing below can be trusted', err=True)
    text = (render(manifest).rstrip() if as_json
            else manifest_summary(manifest, status_of(manifest)))
    if problems and not as_json:
        text = f'UNVERIFIED RUN: {problems[0]}\n{text}'
    typer.echo(text)
