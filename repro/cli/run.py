"""``repro run LAUNCHER [--seed N] [--gpus …] [--network] [-- ARGS…]``."""
from typing import List, Optional

import typer

# Checked here too, so a seed that numpy would wrap (2**32 is seed 0) is a
# usage error before anything happens. repro.contract imports nothing.
from repro.contract import MAX_SEED


def run(launcher: str = typer.Argument(..., help='the launcher script'),
        args: Optional[List[str]] = typer.Argument(None, help='arguments after --'),
        seed: int = typer.Option(0, min=0, max=MAX_SEED,
                                 help='experiment seed (REPRO_SEED in the container)'),
        threads: Optional[int] = typer.Option(
            None, min=1, help='fix torch/BLAS threads (recorded; default: the image\'s)'),
        gpus: Optional[str] = typer.Option(None, help='"all" or device ids, e.g. "0,1"'),
        network: bool = typer.Option(False, '--network',
                                     help='allow networking (off by default)'),
        sign: bool = typer.Option(False, '--sign', help='sign the finished run (see `repro '
                                                        'sign`)')):
    """Run a launcher in its pinned image and record a manifest."""
    import os
    import sys

    from repro.cli.key import signing_key
    from repro.engines.interface import connect_engine
    from repro.execute.run import run as run_launcher
    from repro.record.project import open_store, project_root_or_none
    where = os.path.dirname(os.path.abspath(launcher))
    # The key (and its passphrase) first: a typo must not cost a whole run.
    key = signing_key(project_root=project_root_or_none(where)) if sign else None
    result = run_launcher(
        launcher, connect=connect_engine, seed=seed, args=list(args or []), gpus=gpus,
        network=network, threads=threads,
        progress=lambda m: typer.echo(m, err=True), output=sys.stdout.buffer)
    try:
        if key is not None:
            from repro.audit.attestation import sign_run
            typer.echo(f'signed: {sign_run(open_store(where), result.run_id, key)}', err=True)
    finally:  # the last line names the run, signed or not
        typer.echo(f'run {result.run_id} {result.status}')
    raise typer.Exit(result.exit_code or 0)
