"""``repro plot RUN [RUN…] [--metric NAME] -o FILE.png``: learning curves."""
from typing import List

import typer


def plot(runs: List[str] = typer.Argument(..., help='run ids or unique prefixes'),
         metric: str = typer.Option('AverageReturn', help='progress.csv column to plot'),
         output: str = typer.Option(..., '-o', '--output', help='image file to write (.png)')):
    """Overlay the runs' learning curves (mean and spread across seeds)."""
    from repro.plot import plot_runs
    from repro.project import open_store
    store = open_store()
    manifests = [store.read_manifest(store.resolve(ref)) for ref in runs]
    typer.echo(plot_runs(store, manifests, metric, output))
