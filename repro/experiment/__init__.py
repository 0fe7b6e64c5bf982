"""The experiment API: ``deterministic``, ``LocalRunner``/``Trainer``, snapshots.

Names are resolved lazily so importing one piece (say ``deterministic`` from a
sampler worker) does not pull in the rest.
"""
import importlib

_EXPORTS = {
    'wrap_experiment': 'repro.experiment.experiment',
    'ExperimentContext': 'repro.experiment.experiment',
    'ExperimentTemplate': 'repro.experiment.experiment',
    'LocalRunner': 'repro.experiment.local_runner',
    'Trainer': 'repro.experiment.local_runner',
    'Snapshotter': 'repro.experiment.snapshotter',
    'SnapshotConfig': 'repro.experiment.snapshotter',
}

__all__ = ['deterministic', *_EXPORTS]


def __getattr__(name):
    if name == 'deterministic':
        return importlib.import_module('repro.experiment.deterministic')
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
