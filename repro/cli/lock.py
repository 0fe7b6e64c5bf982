"""``repro lock``: requirements.in -> hashed requirements.lock (pip-tools)."""
import typer


def lock(project: str = typer.Option('.', help='project directory')):
    """Lock the project's dependencies with hashes into requirements.lock."""
    from repro.locking import compile_lock, lock_inputs
    lock_inputs(project)  # bad inputs: one line, before any progress output
    typer.echo('locking dependencies with pip-compile --generate-hashes ...', err=True)
    typer.echo(compile_lock(project))
