"""``repro plot``: learning curves of runs overlaid (matplotlib, host side).

A metric is a column of the run's ``progress.csv`` (x axis ``TotalEnvSteps``
when recorded, else ``Epoch``) or, failing that, a scalar tag of its
TensorBoard event files (x axis the step), as plain scripts log with
``torch.utils.tensorboard``. With several runs of the same launcher and
arguments but different seeds, their mean and spread (± one standard
deviation) are drawn as well.

A run directory was written by a container: its files are read through
:mod:`repro.core.safefs` (a link, FIFO or binary file is a one-line error, never
followed, blocked on or decoded), and text from runs reaches matplotlib
with ``$`` escaped, so it is never parsed as mathtext.
"""
import math

from repro.core import safefs
from repro.core.tables import is_events, read_table
from repro.errors import ConfigError, UntrustedFileError
from repro.core.safefs import display

X_AXES = ('TotalEnvSteps', 'Epoch', 'Iteration')
# Event files are parsed in pure Python at about 5 MB/s: this caps a plot or
# diff at seconds, and is far above a long run's scalars.
MAX_EVENTS = 64 << 20


def progress_rows(run_dir):
    """Rows of the run's first progress.csv (sorted path), or []."""
    for entry in safefs.walk(run_dir):
        if entry.rel.rsplit('/', 1)[-1] != 'progress.csv':
            continue
        if entry.kind != 'file':
            raise UntrustedFileError(f'{display(entry.rel)} is a {entry.kind}, not a regular '
                                     'file; not read')
        return read_table(run_dir, entry.rel)
    return []


def event_files(run_dir):
    """Relative paths of the run's TensorBoard event files, sorted."""
    found = []
    for entry in safefs.walk(run_dir):
        if is_events(entry.rel):
            if entry.kind != 'file':
                raise UntrustedFileError(f'{display(entry.rel)} is a {entry.kind}, not a '
                                         'regular file; not read')
            found.append(entry.rel)
    return found


def read_scalars(run_dir, rel):
    """(step, tag, value) of an event file under ``run_dir``, read safely."""
    from repro.log.tensorboard import parse_events
    try:
        return parse_events(safefs.read_bytes(run_dir, rel, MAX_EVENTS))
    except ValueError as exc:
        raise UntrustedFileError(f'{display(rel)} is not a readable event file '
                                 f'({display(exc)})') from None


def run_series(run_dir, metric, run='the run'):
    """(x axis name, xs, ys) of ``metric``: a progress.csv column, else the
    first event file (sorted path) with that scalar tag."""
    rows = progress_rows(run_dir)
    if rows and metric in rows[0]:
        return series(rows, metric)
    names = set(rows[0]) if rows else set()
    for rel in event_files(run_dir):
        scalars = read_scalars(run_dir, rel)
        points = [(step, value) for step, tag, value in scalars if tag == metric]
        if points:
            return 'step', [float(step) for step, _ in points], [v for _, v in points]
        names.update(tag for _step, tag, _value in scalars)
    if not names:
        raise ConfigError(f'{run} has no progress.csv or TensorBoard scalars to plot')
    shown = sorted(display(n) for n in names)
    more = f' and {len(shown) - 40} more' if len(shown) > 40 else ''
    raise ConfigError(f'metric {display(metric)!r} is in neither the progress.csv nor the '
                      f'TensorBoard scalars of {run}',
                      'choose one of: ' + ', '.join(shown[:40]) + more)


def label_text(text):
    """Run-written text as a literal matplotlib label (pure)."""
    return display(text).replace('$', r'\$')


def series(rows, metric):
    """(x axis name, xs, ys) of ``metric`` over the rows (pure)."""
    if not rows:
        raise ConfigError('the run has no progress.csv to plot')
    if metric not in rows[0]:
        raise ConfigError(f'metric {display(metric)!r} not in progress.csv',
                          'choose one of: ' + ', '.join(display(k) for k in sorted(rows[0])))
    x_name = next((x for x in X_AXES if x in rows[0]), None)
    xs, ys = [], []
    for i, row in enumerate(rows):
        try:  # cells may be blank, missing (None) or not numbers
            y = float(row[metric])
            x = float(row[x_name]) if x_name else float(i)
        except (TypeError, ValueError):
            continue
        xs.append(x)
        ys.append(y)
    return x_name or 'row', xs, ys


def mean_and_std(curves):
    """Point-wise mean and std over curves cut to the shortest (pure)."""
    n = min(len(ys) for ys in curves)
    means, stds = [], []
    for i in range(n):
        values = [ys[i] for ys in curves]
        mean = sum(values) / len(values)
        means.append(mean)
        stds.append(math.sqrt(sum((v - mean) ** 2 for v in values) / len(values)))
    return means, stds


def group_key(manifest):
    """What makes runs seeds of one setting, as hashable text, whatever a
    forged manifest holds: a sweep member's grid point, else (launcher, args)."""
    sweep = manifest.get('sweep')
    if isinstance(sweep, dict) and isinstance(sweep.get('params'), dict):
        point = ','.join(f'{k}={v}' for k, v in sorted(sweep['params'].items()))
        return (str(manifest.get('launcher')), (point or 'all',))
    return (str(manifest.get('launcher')), tuple(map(str, manifest.get('args') or [])))


def plot_runs(store, manifests, metric, output, each_run=True):
    """Write the figure to ``output`` (format from its extension). With
    ``each_run`` off (a sweep) only each setting's mean and spread are drawn."""
    import matplotlib
    matplotlib.use('Agg')
    from matplotlib import pyplot as plt
    fig, ax = plt.subplots(figsize=(8, 5), dpi=100)
    x_name, groups = 'row', {}
    for manifest in manifests:
        x_name, xs, ys = run_series(store.run_dir(manifest['run_id']), metric,
                                    f'run {display(manifest["run_id"])}')
        label = label_text(f'{manifest["run_id"]} (seed {manifest.get("seed")})')
        if manifest.get('replay_of'):
            label += ' replay'
        if each_run:
            ax.plot(xs, ys, linewidth=1, alpha=0.8, label=label)
        if not manifest.get('replay_of'):  # a replay repeats a seed, not a new sample
            groups.setdefault(group_key(manifest), {}).setdefault(
                manifest.get('seed'), (xs, ys))
    for (launcher, args), by_seed in groups.items():
        if len(by_seed) >= (2 if each_run else 1):
            members = list(by_seed.values())
            means, stds = mean_and_std([ys for _, ys in members])
            xs, _ = mean_and_std([xs for xs, _ in members])
            name = launcher if each_run else ' '.join(args)
            line, = ax.plot(xs, means, color='black' if each_run else None, linewidth=2.5,
                            label=label_text(f'{name}: mean of {len(members)} seeds'))
            ax.fill_between(xs, [m - s for m, s in zip(means, stds)],
                            [m + s for m, s in zip(means, stds)],
                            color='gray' if each_run else line.get_color(), alpha=0.25,
                            label='± 1 std' if each_run else None)
    ax.set_xlabel(x_name)
    ax.set_ylabel(label_text(metric))
    ax.set_title(label_text(f'{metric} over {x_name}'))
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
    try:
        fig.tight_layout()
        fig.savefig(output)
    except (ValueError, OverflowError) as exc:  # e.g. values spanning 1e308..-1e308
        raise ConfigError(f'cannot draw {display(metric)}: {display(exc)}') from None
    finally:
        plt.close(fig)
    return output
