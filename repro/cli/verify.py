"""``repro verify RUN_ID`` / ``repro verify --store``: re-hash and check."""
import typer


def verify(run: str = typer.Argument(None, help='run id or a unique prefix of one'),
           store_: bool = typer.Option(False, '--store',
                                       help='check every object of the run store instead')):
    """Recompute every artifact hash and the manifest's integrity (or, with
    --store, every object in the run store)."""
    from repro.errors import VerificationError
    from repro.record.project import open_store
    if (run is None) == (not store_):
        raise typer.BadParameter('give exactly one of RUN or --store')
    store = open_store()
    if store_:
        problems, counts = store.check()
        for problem in problems:
            typer.echo(problem)
        if problems:
            raise VerificationError(f'the run store failed verification: '
                                    f'{len(problems)} problem(s)')
        typer.echo('run store verified: {packs} packs ({blobs} blobs), {objects} objects, '
                   '{trees} source trees match their ids'.format(**counts))
        return
    from repro.audit.verify import verify_run
    run_id = store.resolve(run)
    notes = []
    problems, checked = verify_run(store, run_id, notes=notes)
    for line in problems + notes:  # links and FIFOs are named even when recorded
        typer.echo(line)
    if problems:
        raise VerificationError(f'run {run_id} failed verification: {len(problems)} problem(s)')
    typer.echo(f'run {run_id} verified: manifest intact, {checked} artifacts match')
