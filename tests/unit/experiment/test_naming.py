import inspect

import pytest

from repro.errors import ConfigError
from repro.experiment.naming import augment_name, make_sequential_log_dir


def experiment(ctxt=None, seed=1, lr=0.1):
    pass


SIG = inspect.signature(experiment)


@pytest.mark.parametrize('mode, kwargs, expected', [
    (None, {'seed': 0}, 'experiment'),
    ('all', {'seed': 0}, 'experiment_seed_0_lr_0.1'),
    (True, {'seed': 0}, 'experiment_seed_0_lr_0.1'),
    ('passed', {'seed': 0}, 'experiment_seed_0'),
    ('passed', {}, 'experiment'),
    ('passed', {'lr': 3, 'seed': 2}, 'experiment_seed_2_lr_3'),
])
def test_augment_name(mode, kwargs, expected):
    assert augment_name('experiment', mode, SIG, kwargs) == expected


@pytest.mark.parametrize('bad', ['some', False, 1, 'ALL'])
def test_bad_name_parameters(bad):
    with pytest.raises(ConfigError):
        augment_name('experiment', bad, SIG, {})


def test_sequential_log_dirs(tmp_path):
    base = str(tmp_path / 'a' / 'exp')
    made = [make_sequential_log_dir(base) for _ in range(3)]
    assert made == [base, base + '_1', base + '_2']


def test_launcher_flags():
    from repro.experiment.launcher import launcher_kwargs
    assert launcher_kwargs(argv=[]) == {'seed': 0}
    assert launcher_kwargs(argv=['--seed', '3', '--n-epochs', '7']) == {'seed': 3, 'n_epochs': 7}
