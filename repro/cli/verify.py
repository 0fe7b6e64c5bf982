"""``repro verify RUN_ID``: re-hash a run and check its manifest."""
import typer


def verify(run: str = typer.Argument(..., help='run id or a unique prefix of one')):
    """Recompute every artifact hash and the manifest's integrity."""
    from repro.errors import VerificationError
    from repro.project import open_store
    from repro.verify import verify_run
    store = open_store()
    run_id = store.resolve(run)
    problems, checked = verify_run(store, run_id)
    for problem in problems:
        typer.echo(problem)
    if problems:
        raise VerificationError(f'run {run_id} failed verification: {len(problems)} problem(s)')
    typer.echo(f'run {run_id} verified: manifest intact, {checked} artifacts match')
