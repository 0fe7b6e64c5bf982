"""``repro verify RUN_ID [--key PUB] [--policy FILE]`` / ``repro verify --store``."""
from typing import Optional

import typer


def verify(run: str = typer.Argument(None, help='run id or a unique prefix of one'),
           store_: bool = typer.Option(False, '--store',
                                       help='check every object of the run store instead'),
           key: Optional[str] = typer.Option(None, '--key', help='public key: check the '
                                             'run\'s signature and signed statement first'),
           policy: Optional[str] = typer.Option(None, '--policy', help='policy TOML to check '
                                                'the signed statement against (needs --key)')):
    """Check a run: signature and signed statement (with --key), every artifact
    hash and the manifest's integrity, then a policy (or, with --store, every
    object in the run store)."""
    import datetime

    from repro.errors import VerificationError
    from repro.record.project import open_store
    if (run is None) == (not store_) or (store_ and (key or policy)):
        raise typer.BadParameter('give exactly one of RUN or --store (--key and --policy '
                                 'go with RUN)')
    if policy and not key:
        raise typer.BadParameter('--policy needs --key: its rules read the signed statement')
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
    from repro.audit.verify import check_run
    run_id = store.resolve(run)
    public = rules = None
    if key:  # a bad key or policy fails before any check
        from repro.audit.keys import load_public
        from repro.audit.policy import load
        public, rules = load_public(key), (policy, load(policy)) if policy else None
    check_run(store, run_id, typer.echo, public_key=public, policy=rules,
              now=datetime.datetime.now(datetime.timezone.utc))
