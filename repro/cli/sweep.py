"""``repro sweep LAUNCHER --seeds 0-9 [--grid K=V1,V2 …] [-- ARGS]`` and
``repro sweep status|resume|cancel SWEEP_ID``."""
from typing import List, Optional

import typer

ACTIONS = ('status', 'resume', 'cancel')


def sweep(target: str = typer.Argument(..., metavar='LAUNCHER|status|resume|cancel',
                                       help='the launcher script, or an action on a sweep'),
          args: Optional[List[str]] = typer.Argument(
              None, metavar='[SWEEP_ID | -- ARGS]',
              help='the sweep id for an action; else arguments for every member, '
                   'with {seed}, {name} and {KEY} of the grid filled in'),
          seeds: Optional[str] = typer.Option(None, help="seeds: '0-9', '1,3,5', '0-4,10'"),
          grid: Optional[List[str]] = typer.Option(
              None, '--grid', help="KEY=V1,V2 (repeatable; the Cartesian product)"),
          engine: str = typer.Option('local', help='where members run: local or slurm'),
          max_parallel: int = typer.Option(0, '--max-parallel', min=0,
                                           help='members at once (0: one per core)'),
          threads: int = typer.Option(1, min=1,
                                      help='torch/BLAS threads per member (recorded)'),
          gpus: Optional[str] = typer.Option(None, help='"all" or device ids, e.g. "0,1"'),
          network: bool = typer.Option(False, '--network', help='allow networking'),
          yes: bool = typer.Option(False, '--yes', help='allow more than 10,000 members'),
          as_json: bool = typer.Option(False, '--json', help='status: print JSON'),
          dry_run: bool = typer.Option(False, '--dry-run',
                                       help='slurm: print the batch script, submit nothing'),
          partition: Optional[str] = typer.Option(None, help='slurm: partition'),
          time: Optional[str] = typer.Option(None, '--time', help='slurm: time limit'),
          cpus_per_task: Optional[int] = typer.Option(
              None, '--cpus-per-task', min=1, help='slurm: CPUs per task (default: --threads)'),
          gres: Optional[str] = typer.Option(None, help='slurm: generic resources, e.g. gpu:1'),
          sign: bool = typer.Option(False, '--sign',
                                    help='sign every member run at the end (see `repro sign`)')):
    """Run a launcher over seeds and a grid, from one snapshot and one image.

    Every member is an ordinary run (replay, verify, show and export work on
    it). 'status', 'resume' (runs the members without a succeeded run) and
    'cancel' take a sweep id; 'status' alone lists the sweeps.
    """
    from repro.cli.key import signing_key
    from repro.record.project import open_store, project_root_or_none
    # The key (and its passphrase) first: a typo must not cost a whole sweep.
    key = signing_key(project_root=project_root_or_none()) if sign else None
    if target == 'status' and not args:  # every sweep in the store
        from repro.execute.sweepruns import list_sweeps
        from repro.audit.render import sweeps_table
        typer.echo(sweeps_table(list_sweeps(open_store())))
        return
    if target in ACTIONS:
        if len(args or []) != 1:
            from repro.errors import ConfigError
            raise ConfigError(f'usage: repro sweep {target} SWEEP_ID')
        return _action(target, args[0], open_store(), max_parallel, as_json, key, network)
    from repro.engines.interface import connect_engine
    from repro.errors import ConfigError
    from repro.execute.sweep import SweepRequest, start
    if seeds is None:
        raise ConfigError('--seeds is required', "e.g. --seeds 0-9")
    slurm = {'partition': partition, 'time': time, 'cpus_per_task': cpus_per_task,
             'gres': gres}
    if engine != 'slurm' and (dry_run or any(v is not None for v in slurm.values())):
        raise ConfigError('--dry-run, --partition, --time, --cpus-per-task and --gres are '
                          'for --engine slurm')
    request = SweepRequest(target, seeds, tuple(grid or ()), tuple(args or ()), engine,
                           max_parallel, threads, network, gpus, yes, slurm, dry_run)
    result = start(request, connect=connect_engine, progress=_progress)
    if dry_run:
        typer.echo(result, nl=False)
        return
    _finish(result, key)


def _action(action, ref, store, max_parallel, as_json, key, network):
    from repro.engines.interface import connect_engine
    from repro.execute import sweep as core
    if action == 'status':
        import json

        from repro.audit.render import sweep_table
        from repro.execute.sweepruns import status_rows
        record, rows = status_rows(store, ref)
        typer.echo(json.dumps({'sweep_id': record['sweep_id'], 'members': rows}, indent=2)
                   if as_json else sweep_table(record, rows))
    elif action == 'resume':
        from repro.record.project import project_root_or_none
        _finish(core.resume(store, ref, connect=connect_engine, max_parallel=max_parallel,
                            progress=_progress, network=network,
                            project_root=project_root_or_none()), key)
    else:
        sweep_id, what = core.cancel(store, ref, connect=connect_engine)
        typer.echo(f'sweep {sweep_id}: {what}')


def _progress(message):
    typer.echo(message, err=True)


def _finish(result, key=None):
    if key is not None:  # on this host, once the members have finished (any engine)
        from repro.audit.attestation import sign_run
        from repro.errors import ReproError
        from repro.execute.sweepruns import member_runs
        from repro.record.project import open_store
        store = open_store()
        signed = 0
        for run_id in member_runs(store, result.sweep_id)[1]:
            try:
                sign_run(store, run_id, key)
                signed += 1
            except ReproError as exc:  # unfinished or unverifiable: said, not signed
                _progress(f'not signed: {exc}')
        _progress(f'signed {signed} member run(s)')
    typer.echo(f'sweep {result.sweep_id} {result.succeeded}/{result.total} succeeded')
    raise typer.Exit(0 if result.succeeded == result.total else 1)
