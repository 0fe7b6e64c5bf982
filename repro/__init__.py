"""repro: reproducible machine-learning and RL experiment runs.

``from repro import wrap_experiment, logger, tabular`` for launchers;
``from repro.experiment import deterministic, LocalRunner`` for training
(``from repro import Trainer``, garage 2021.03's spelling, works too).
Attributes load lazily, so ``repro --help`` does not import numpy.
"""
import importlib

from repro._version import __version__  # in a run image: its closure's id

_EXPORTS = {
    'wrap_experiment': 'repro.experiment.experiment',
    'logger': 'repro.log',
    'tabular': 'repro.log',
    'LocalRunner': 'repro.experiment.local_runner',
    'Trainer': 'repro.experiment.local_runner',
}

__all__ = ['__version__', *_EXPORTS]


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
