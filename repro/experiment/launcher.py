"""The command-line flags shared by launcher scripts: ``--seed``, ``--n-epochs``."""
import argparse


def launcher_kwargs(description=None, argv=None):
    """Parse ``--seed N`` and ``--n-epochs N`` into experiment keyword arguments.

    ``seed`` is always passed (default 0); ``n_epochs`` only when given, so
    with ``name_parameters='passed'`` a default run is named ``<fn>_seed_0``.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument('--seed', type=int, default=0, help='experiment seed (default 0)')
    parser.add_argument('--n-epochs', type=int, default=None,
                        help="number of epochs (default: the experiment's own)")
    args = parser.parse_args(argv)
    kwargs = {'seed': args.seed}
    if args.n_epochs is not None:
        kwargs['n_epochs'] = args.n_epochs
    return kwargs
