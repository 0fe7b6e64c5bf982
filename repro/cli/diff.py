"""``repro diff A B``: code, dependencies, image, seed, flags, host, metrics."""
import typer


def diff(a: str = typer.Argument(..., help='first run (id or unique prefix)'),
         b: str = typer.Argument(..., help='second run (id or unique prefix)'),
         patch: bool = typer.Option(False, '--patch', help='unified diff of changed files')):
    """Show what differs between two runs."""
    from repro.store.manifest_loader import load
    from repro.record.project import open_store
    from repro.audit.rundiff import diff_runs
    from repro.core.safefs import display, printable
    store = open_store()
    ma, mb = (load(store, store.resolve(ref)) for ref in (a, b))
    typer.echo(f'a: {display(ma["run_id"])}\nb: {display(mb["run_id"])}')
    for title, lines in diff_runs(store, ma, mb, patch=patch):
        typer.echo(f'\n## {title}')
        # Everything below may come from a forged store or a container's
        # outputs: no line may carry terminal escapes or forge another line.
        typer.echo('\n'.join(printable(ln) for ln in lines) if lines else '(same)')
