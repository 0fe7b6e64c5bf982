"""``repro plot RUN [RUN…] [--metric NAME] -o FILE.png``: learning curves."""
from typing import List, Optional

import typer


def plot(runs: Optional[List[str]] = typer.Argument(None, help='run ids or unique prefixes'),
         metric: str = typer.Option('AverageReturn',
                                    help='progress.csv column or TensorBoard scalar tag'),
         output: str = typer.Option(..., '-o', '--output',
                                    help='image file to write (.png, .svg, .pdf, …)'),
         sweep: Optional[str] = typer.Option(
             None, '--sweep', help='a sweep: one mean-and-spread line per grid point')):
    """Overlay the runs' learning curves (mean and spread across seeds)."""
    from repro.errors import ConfigError
    if bool(runs) == (sweep is not None):
        raise ConfigError('give run ids or --sweep SWEEP_ID (one of them)')
    check_output(output)
    from repro.audit.plot import plot_runs
    from repro.store.manifest_loader import load
    from repro.record.project import open_store
    store = open_store()
    if sweep is not None:
        from repro.execute.sweepruns import member_runs
        sweep_id, runs = member_runs(store, sweep, succeeded_only=True)
        if not runs:
            raise ConfigError(f'sweep {sweep_id} has no succeeded member to plot')
    manifests = [load(store, store.resolve(ref)) for ref in runs]
    typer.echo(plot_runs(store, manifests, metric, output, each_run=sweep is None))


def check_output(output):
    """Refuse an output matplotlib cannot write, before any run is read.

    matplotlib picks the format from the extension and fails only after
    drawing, with a traceback (so does .pgf without a LaTeX system); a
    missing directory fails only after every run was read.
    """
    import os
    import shutil

    import matplotlib
    from matplotlib.figure import Figure

    from repro.errors import ConfigError
    latex = shutil.which(matplotlib.rcParams['pgf.texsystem'])  # .pgf runs LaTeX
    formats = sorted(f for f in Figure().canvas.get_supported_filetypes()
                     if f != 'pgf' or latex)
    ext = os.path.splitext(output)[1][1:].lower()
    cannot = f'cannot write a plot as {output!r}'
    if ext not in formats:
        raise ConfigError(f'{cannot}: unknown image format {ext!r}' if ext else
                          f'{cannot}: no file extension', 'use one of: .' + ', .'.join(formats))
    where = os.path.dirname(os.path.abspath(output))
    if not os.path.isdir(where):
        raise ConfigError(f'{cannot}: no directory {where!r}')
    if os.path.isdir(output) or not os.access(where, os.W_OK):
        raise ConfigError(f'{cannot}: not a writable file')
