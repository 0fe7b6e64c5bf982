"""``repro sign RUN_ID [--key PRIVATE]``: write the run's signed attestation."""
from typing import Optional

import typer


def sign(run: str = typer.Argument(..., help='run id or a unique prefix of one'),
         key: Optional[str] = typer.Option(
             None, '--key', help='private key (default: REPRO_SIGNING_KEY, then '
                                 '[tool.repro] signing_key)')):
    """Sign a run: a DSSE envelope of its in-toto statement, attestation.dsse.json."""
    from repro.audit.attestation import sign_run
    from repro.cli.key import signing_key
    from repro.record.project import open_store, project_root_or_none
    store = open_store()
    run_id = store.resolve(run)
    private = signing_key(key, project_root_or_none())
    typer.echo(f'signed {run_id} with ed25519 key {private.keyid[:16]}: '
               f'{sign_run(store, run_id, private)}')
