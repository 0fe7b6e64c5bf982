"""``wrap_experiment``: a launcher function becomes a logged, snapshotted run.

Compatible with garage's decorator: the same parameters and defaults, the
same directory layout and files, plus what garage left out for exact
reproduction (all parameters in ``variant.json``, seed and determinism flags
in ``metadata.json``, no silent cap on the launch archive).
"""
import dataclasses
import functools
import inspect
import os

from repro.contract import ENV_SEED
from repro.errors import ConfigError
from repro.experiment.naming import (augment_name, default_log_dir,
                                     make_sequential_log_dir,
                                     normalise_name_parameters)
from repro.experiment.session import ExperimentSession
from repro.experiment.snapshotter import validate_snapshot_options


@dataclasses.dataclass(frozen=True)
class ExperimentContext:
    """What the experiment function gets as ``ctxt``."""

    snapshot_dir: str
    snapshot_mode: str
    snapshot_gap: int

    @property
    def log_dir(self):
        return self.snapshot_dir


_OPTION_TYPES = {
    'log_dir': ((str, os.PathLike, type(None)), 'a path or None'),
    'prefix': ((str,), 'a string'),
    'name': ((str, type(None)), 'a string or None'),
    'archive_launch_repo': ((bool,), 'True or False'),
    'use_existing_dir': ((bool,), 'True or False'),
    'x_axis': ((str, type(None)), 'a string or None'),
}


def _validate_options(options):
    for key, (types, what) in _OPTION_TYPES.items():
        if not isinstance(options[key], types):
            raise ConfigError(f'wrap_experiment option {key} must be {what}, '
                              f'got {options[key]!r}')
    if options['prefix'] in ('', '.', '..') or '/' in options['prefix']:
        raise ConfigError(f'wrap_experiment option prefix must be one directory name, '
                          f'got {options["prefix"]!r}')
    validate_snapshot_options(options['snapshot_mode'], options['snapshot_gap'])
    normalise_name_parameters(options['name_parameters'])


def _validate_function(function):
    params = list(inspect.signature(function).parameters.values())
    if not params or params[0].name != 'ctxt':
        raise ConfigError(f'experiment function {function.__name__}() must take '
                          "'ctxt' as its first parameter")
    for param in params[1:]:
        if param.kind in (param.POSITIONAL_ONLY, param.VAR_POSITIONAL):
            raise ConfigError(f'parameter {param.name!r} of {function.__name__}() '
                              'must be passable by keyword')


def _seed_from_repro_run(signature, kwargs):
    """Under ``repro run --seed N`` (REPRO_SEED set), N is the ``seed`` argument.

    The run's seed is the one the manifest records, so it wins over the
    launcher's own default or flag.
    """
    seed = os.environ.get(ENV_SEED)
    if seed in (None, '') or 'seed' not in signature.parameters:
        return kwargs
    return {**kwargs, 'seed': int(seed)}


class ExperimentTemplate:
    """A decorated experiment function (or, without one, a pending decorator)."""

    def __init__(self, *, function, **options):
        self.function = function
        self._options = options
        _validate_options(options)
        if function is not None:
            _validate_function(function)
            functools.update_wrapper(self, function)

    def __call__(self, *args, **kwargs):
        if self.function is None:
            if len(args) != 1 or kwargs or not callable(args[0]):
                raise ConfigError('apply the result of wrap_experiment(...) to a function')
            return type(self)(function=args[0], **self._options)
        options = self._call_options(*args)
        signature = inspect.signature(self.function)
        kwargs = _seed_from_repro_run(signature, kwargs)
        try:
            signature.bind(None, **kwargs)
        except TypeError as exc:
            raise ConfigError(f'{self.function.__name__}(): {exc}') from None
        name = augment_name(options['name'] or self.function.__name__,
                            options['name_parameters'], signature, kwargs)
        log_dir = os.fspath(options['log_dir'] or default_log_dir(options['prefix'], name))
        if options['use_existing_dir']:
            os.makedirs(log_dir, exist_ok=True)
        else:
            log_dir = make_sequential_log_dir(log_dir)
        ctxt = ExperimentContext(snapshot_dir=log_dir,
                                 snapshot_mode=options['snapshot_mode'],
                                 snapshot_gap=options['snapshot_gap'])
        session = ExperimentSession(log_dir=log_dir, name=name, function=self.function,
                                    signature=signature, kwargs=kwargs, options=options)
        with session:
            return self.function(ctxt, **kwargs)

    def _call_options(self, *args):
        """Options for one call: a positional dict overrides the decorator's."""
        options = dict(self._options)
        if not args:
            return options
        if len(args) == 1 and isinstance(args[0], dict):
            unknown = sorted(set(args[0]) - set(options))
            if unknown:
                raise ConfigError(f'unknown wrap_experiment option(s): {", ".join(unknown)}',
                                  'valid: ' + ', '.join(sorted(options)))
            options.update(args[0])
            _validate_options(options)
            return options
        raise ConfigError('experiment functions take keyword arguments only '
                          '(and optionally one dict of wrap_experiment options)')


def wrap_experiment(function=None, *, log_dir=None, prefix='experiment', name=None,
                    snapshot_mode='last', snapshot_gap=1, archive_launch_repo=True,
                    name_parameters=None, use_existing_dir=False, x_axis='TotalEnvSteps'):
    """Decorate an experiment function ``f(ctxt, **kwargs)``.

    Usable bare (``@wrap_experiment``) or with options. Each call creates a
    log directory (default ``data/local/<prefix>/<name>``, ``_1``, ``_2``…
    when taken), writes ``variant.json``, ``metadata.json``, the launch
    archive, ``debug.log``, ``progress.csv``, TensorBoard events and
    ``stdout.log`` there, and passes an :class:`ExperimentContext` as ``ctxt``
    for :class:`~repro.experiment.LocalRunner` snapshots.
    """
    return ExperimentTemplate(function=function, log_dir=log_dir, prefix=prefix, name=name,
                              snapshot_mode=snapshot_mode, snapshot_gap=snapshot_gap,
                              archive_launch_repo=archive_launch_repo,
                              name_parameters=name_parameters,
                              use_existing_dir=use_existing_dir, x_axis=x_axis)
