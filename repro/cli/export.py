"""``repro export RUN_ID --format in-toto [-o FILE]``: provenance of a run."""
from typing import Optional

import typer


def export(run: str = typer.Argument(..., help='run id or a unique prefix of one'),
           format: str = typer.Option('in-toto', '--format',
                                      help='in-toto (Statement v1, SLSA Provenance v1)'),
           output: Optional[str] = typer.Option(None, '-o', '--output',
                                                help='write to FILE instead of stdout')):
    """Export a run's provenance."""
    import json

    from repro.core._fs import atomic_writer
    from repro.errors import ConfigError, VerificationError
    from repro.store.manifest_loader import load
    from repro.record.project import open_store
    from repro.audit.provenance import statement
    from repro.audit.verify import verify_run
    if format != 'in-toto':
        raise ConfigError(f'unknown export format {format!r}', 'use --format in-toto')
    store = open_store()
    run_id = store.resolve(run)
    problems, _ = verify_run(store, run_id)
    if problems:  # provenance of edited files would vouch for them
        raise VerificationError(f'run {run_id} failed verification ({problems[0]}); '
                                'not exporting it', f'see `repro verify {run_id}`')
    text = json.dumps(statement(load(store, run_id)), indent=2, sort_keys=True) + '\n'
    if output:
        with atomic_writer(output, 'w', fsync=False) as f:
            f.write(text)
        typer.echo(output)
    else:
        typer.echo(text, nl=False)
