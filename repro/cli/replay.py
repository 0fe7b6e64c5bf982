"""``repro replay RUN_ID``: re-execute a run and prove its outputs match."""
from typing import List, Optional

import typer

DIVERGED_EXIT = 4          # distinct from errors (2) and failed verification (3)
NOTHING_COMPARED_EXIT = 5  # only logs or timing came out: nothing was proved


def replay(run: Optional[str] = typer.Argument(None, help='run id or a unique prefix of one'),
           rtol: float = typer.Option(0.0, help='relative tolerance for metrics'),
           atol: float = typer.Option(0.0, help='absolute tolerance for metrics'),
           network: bool = typer.Option(False, '--network',
                                        help='allow networking, for a run recorded with it'),
           timing: Optional[List[str]] = typer.Option(
               None, '--timing', help='glob of another wall-clock metric (repeatable)'),
           compare_all: bool = typer.Option(False, '--compare-all',
                                            help='compare timing metrics too'),
           as_json: bool = typer.Option(False, '--json', help='print the verdict as JSON'),
           force: bool = typer.Option(False, '--force',
                                      help='replay even if the run fails verification'),
           sweep: Optional[str] = typer.Option(None, '--sweep',
                                               help="replay a sweep's succeeded members"),
           sample: int = typer.Option(0, '--sample', min=0,
                                      help='with --sweep: replay only this many members'),
           sign: bool = typer.Option(False, '--sign', help='sign the replay run, verdict '
                                                           'included (see `repro sign`)')):
    """Replay a run exactly: REPRODUCED (exit 0), DIVERGED (4) or NOTHING COMPARED (5)."""
    import json
    import math
    import sys

    from repro.engines.interface import connect_engine
    from repro.cli.key import signing_key
    from repro.errors import ConfigError
    from repro.record.project import open_store, project_root_or_none
    from repro.audit.render import verdict_lines
    from repro.audit.replay import replay as replay_run
    from repro.core.timing import TimingRules
    for name, value in (('--rtol', rtol), ('--atol', atol)):
        if not math.isfinite(value) or value < 0:
            raise ConfigError(f'invalid {name} {value}: use a finite number >= 0')
    if (run is None) == (sweep is None):
        raise ConfigError('give a run id or --sweep SWEEP_ID (one of them)')
    rules = TimingRules(extra_globs=(*_config_timing(), *(timing or ())),
                        compare_all=compare_all)
    key = signing_key(project_root=project_root_or_none()) if sign else None
    store = open_store()

    def one(ref, output):
        verdict = replay_run(store, ref, connect=connect_engine, rtol=rtol, atol=atol,
                             network=network, timing=rules, force=force,
                             progress=lambda m: typer.echo(m, err=True), output=output)
        if key is not None:
            from repro.audit.attestation import sign_run
            typer.echo(f'signed: {sign_run(store, verdict.replay, key)}', err=True)
        return verdict
    if sweep is not None:
        _replay_sweep(sweep, sample, one, as_json)
        return
    verdict = one(run, sys.stdout.buffer)
    if as_json:
        typer.echo(json.dumps(verdict.to_json(), indent=2, allow_nan=False))
    else:
        typer.echo('\n'.join(verdict_lines(verdict)))
    if verdict.comparison.divergences or verdict.verification:
        raise typer.Exit(DIVERGED_EXIT)
    if verdict.comparison.nothing_compared:
        raise typer.Exit(NOTHING_COMPARED_EXIT)


def _replay_sweep(ref, sample, one, as_json):
    """Replay the sweep's succeeded members (a fixed sample of them with
    ``--sample``), one verdict line each, then ``k/n REPRODUCED``."""
    import json
    import os

    from repro.execute.sweepruns import replay_members
    from repro.record.project import open_store
    sweep_id, members = replay_members(open_store(), ref, sample)
    reproduced, verdicts = 0, []
    with open(os.devnull, 'wb') as sink:
        for member in members:
            verdict = one(member['run_id'], sink)
            reproduced += verdict.reproduced
            verdicts.append({'index': member['index'], **verdict.to_json()})
            typer.echo(f'member {member["index"]} ({member["name"]}): {verdict.name}'
                       + (f': {verdict.divergence}' if verdict.divergence else ''))
    if as_json:
        typer.echo(json.dumps({'sweep_id': sweep_id, 'members': verdicts}, indent=2,
                              allow_nan=False))
    typer.echo(f'sweep {sweep_id}: {reproduced}/{len(members)} REPRODUCED')
    if reproduced != len(members):
        raise typer.Exit(DIVERGED_EXIT)


def _config_timing():
    """``[tool.repro] replay.timing`` of the project we are in, if any."""
    from repro.record.config import replay_timing
    from repro.record.project import project_root_or_none
    root = project_root_or_none()
    return replay_timing(root) if root else ()  # outside a repository: none
