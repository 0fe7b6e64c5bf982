"""``repro plot RUN [RUN…] [--metric NAME] -o FILE.png``: learning curves."""
from typing import List

import typer


def plot(runs: List[str] = typer.Argument(..., help='run ids or unique prefixes'),
         metric: str = typer.Option('AverageReturn',
                                    help='progress.csv column or TensorBoard scalar tag'),
         output: str = typer.Option(..., '-o', '--output',
                                    help='image file to write (.png, .svg, .pdf, …)')):
    """Overlay the runs' learning curves (mean and spread across seeds)."""
    check_output(output)
    from repro.audit.plot import plot_runs
    from repro.store.manifest_loader import load
    from repro.record.project import open_store
    store = open_store()
    manifests = [load(store, store.resolve(ref)) for ref in runs]
    typer.echo(plot_runs(store, manifests, metric, output))


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
