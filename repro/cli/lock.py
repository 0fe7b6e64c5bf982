"""``repro lock``: requirements.in (or [project.dependencies], or requirements.txt)
-> hashed requirements.lock (pip-tools)."""
import typer


def lock(project: str = typer.Option('.', help='project directory')):
    """Lock the project's dependencies with hashes into requirements.lock.

    The input is requirements.in, else pyproject.toml's [project.dependencies],
    else requirements.txt (whose pins are kept as constraints).
    """
    from repro.record.locking import compile_lock, lock_inputs
    source, _text = lock_inputs(project)  # bad inputs: one line, before any progress output
    typer.echo(f'locking {source} with pip-compile --generate-hashes ...', err=True)
    typer.echo(compile_lock(project))
