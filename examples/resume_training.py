#!/usr/bin/env python3
"""Resume any experiment from its snapshot directory.

    python examples/resume_training.py data/local/experiment/cartpole_vpg_seed_0 \
        [--n-epochs 80] [--from-epoch last]

The new run gets its own log directory; its progress.csv continues with the
epochs after the snapshot, row for row what an uninterrupted run writes.
"""
import argparse

from repro import wrap_experiment
from repro.experiment import LocalRunner


@wrap_experiment
def resume_experiment(ctxt=None, saved_dir=None, from_epoch='last', n_epochs=None):
    """Restore the snapshot in ``saved_dir`` and train to ``n_epochs``."""
    runner = LocalRunner(snapshot_config=ctxt)
    runner.restore(from_dir=saved_dir, from_epoch=from_epoch)
    return runner.resume(n_epochs=n_epochs)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('saved_dir')
    parser.add_argument('--n-epochs', type=int, default=None)
    parser.add_argument('--from-epoch', default='last')
    args = parser.parse_args(argv)
    return resume_experiment(saved_dir=args.saved_dir, from_epoch=args.from_epoch,
                             n_epochs=args.n_epochs)


if __name__ == '__main__':
    main()
