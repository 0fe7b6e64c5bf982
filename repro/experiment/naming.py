"""Experiment names and log directories (garage's rules, as pure functions)."""
import inspect
import os
import re

from repro.errors import ConfigError

def normalise_name_parameters(value):
    """``True`` means ``'all'`` (the seed page's wording); others validated."""
    if value is True:
        return 'all'
    if not (value is None or value in ('all', 'passed')):
        raise ConfigError(f'name_parameters must be None, "passed", "all" or True, got {value!r}')
    return value


def experiment_parameters(signature, kwargs):
    """Every parameter after ``ctxt``: passed values, else defaults."""
    params = {}
    for param in list(signature.parameters.values())[1:]:
        if param.name in kwargs:
            params[param.name] = kwargs[param.name]
        elif param.default is not inspect.Parameter.empty:
            params[param.name] = param.default
    return params


def augment_name(name, name_parameters, signature, kwargs):
    """``name`` plus ``_key_value`` for the chosen parameters.

    ``'all'`` names every parameter (defaults too), ``'passed'`` only those
    given in the call: ``experiment`` + ``seed=0`` gives ``experiment_seed_0``.
    """
    mode = normalise_name_parameters(name_parameters)
    if mode is None:
        return name
    params = experiment_parameters(signature, kwargs)
    if mode == 'passed':
        params = {k: v for k, v in params.items() if k in kwargs}
    parts = [f'{k}_{_path_safe(v)}' for k, v in params.items()]
    return '_'.join([name, *parts])


def _path_safe(value):
    """A parameter value as one safe path component (no '/', no spaces)."""
    return re.sub(r'[^A-Za-z0-9._=+-]+', '_', str(value)).strip('.') or '_'



def default_log_dir(prefix, name, cwd=None):
    """``<cwd>/data/local/<prefix>/<name>``, as garage lays it out."""
    return os.path.join(cwd or os.getcwd(), 'data', 'local', prefix, name)


def make_sequential_log_dir(log_dir):
    """Create ``log_dir``, or ``log_dir_1``, ``log_dir_2``… if it exists.

    ``os.makedirs`` fails on an existing leaf, so two experiments started at
    once never share a directory.
    """
    i = 0
    while True:
        candidate = log_dir if i == 0 else f'{log_dir}_{i}'
        try:
            os.makedirs(candidate)
            return candidate
        except FileExistsError:
            i += 1
