"""``repro replay RUN_ID``: re-execute a run and prove its outputs match."""
import typer

DIVERGED_EXIT = 4  # distinct from errors (2) and failed verification (3)


def replay(run: str = typer.Argument(..., help='run id or a unique prefix of one'),
           rtol: float = typer.Option(0.0, help='relative tolerance for metrics'),
           atol: float = typer.Option(0.0, help='absolute tolerance for metrics'),
           network: bool = typer.Option(False, '--network',
                                        help='allow networking, for a run recorded with it')):
    """Replay a run exactly; REPRODUCED (exit 0) or DIVERGED (exit 4)."""
    import math
    import sys

    from repro.errors import ConfigError
    from repro.project import open_store
    for name, value in (('--rtol', rtol), ('--atol', atol)):
        if not math.isfinite(value) or value < 0:
            raise ConfigError(f'invalid {name} {value}: use a finite number >= 0')
    from repro.replay import replay as replay_run
    verdict = replay_run(open_store(), run, rtol=rtol, atol=atol, network=network,
                         progress=lambda m: typer.echo(m, err=True), output=sys.stdout.buffer)
    for line in verdict.host_warnings:
        typer.echo(f'warning: host {line}', err=True)
    typer.echo(f'run {verdict.replay} {verdict.status} (replay of {verdict.original})')
    if not verdict.reproduced:
        typer.echo(f'DIVERGED: {verdict.divergence}')
        raise typer.Exit(DIVERGED_EXIT)
    note = ' (on a different host: see warnings)' if verdict.host_warnings else ''
    typer.echo(f'REPRODUCED: every compared artifact matched{note}')
