"""``repro export RUN_ID --format in-toto|dsse [-o FILE]``: provenance of a run."""
from typing import Optional

import typer


def export(run: str = typer.Argument(..., help='run id or a unique prefix of one'),
           format: str = typer.Option('in-toto', '--format',
                                      help='in-toto (Statement v1, SLSA Provenance v1) or '
                                           'dsse (the signed envelope `repro sign` wrote)'),
           output: Optional[str] = typer.Option(None, '-o', '--output',
                                                help='write to FILE instead of stdout')):
    """Export a run's provenance statement, or its signed attestation."""
    from repro.core._fs import atomic_writer
    from repro.errors import ConfigError, VerificationError
    from repro.store.manifest_loader import load
    from repro.record.project import open_store
    from repro.audit.verify import verify_run
    if format not in ('in-toto', 'dsse'):
        raise ConfigError(f'unknown export format {format!r}', 'use --format in-toto or dsse')
    store = open_store()
    run_id = store.resolve(run)
    problems, _ = verify_run(store, run_id)
    if problems:  # provenance of edited files would vouch for them
        raise VerificationError(f'run {run_id} failed verification ({problems[0]}); '
                                'not exporting it', f'see `repro verify {run_id}`')
    if format == 'dsse':
        text = _envelope(store, run_id)
    else:
        from repro.audit.provenance import statement_text
        text = statement_text(load(store, run_id))
    if output:
        with atomic_writer(output, 'w', fsync=False) as f:
            f.write(text)
        typer.echo(output)
    else:
        typer.echo(text, nl=False)


def _envelope(store, run_id):
    """The stored envelope as it is (its signature covers the payload only)."""
    from repro.audit.attestation import read_envelope
    from repro.audit.dsse import parse
    from repro.errors import SignatureError
    text = read_envelope(store, run_id)
    if text is None:
        raise SignatureError(f'run {run_id} is not signed', f'sign it with `repro sign {run_id}`')
    parse(text)  # an envelope, whoever signed it; `repro verify --key` says who
    return text
