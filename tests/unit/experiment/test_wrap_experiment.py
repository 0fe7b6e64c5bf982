import json
import os
import pathlib

import pytest

from repro import logger, tabular, wrap_experiment
from repro.errors import ConfigError
from repro.experiment import deterministic
from tests.helpers import read_csv


@wrap_experiment(archive_launch_repo=False)
def my_exp(ctxt=None, seed=3, lr=0.5):
    deterministic.set_seed(seed)
    logger.log('inside')
    print('printed line')
    for epoch in range(2):
        tabular.record('Epoch', epoch)
        tabular.record('TotalEnvSteps', 10 * (epoch + 1))
        logger.log(tabular)
        logger.dump_all(epoch)
        tabular.clear()
    return ctxt


def test_default_layout_and_files():
    ctxt = my_exp(seed=4)
    log_dir = pathlib.Path('data/local/experiment/my_exp').resolve()
    assert pathlib.Path(ctxt.snapshot_dir).resolve() == log_dir
    assert (ctxt.snapshot_mode, ctxt.snapshot_gap) == ('last', 1)
    names = {p.name for p in log_dir.iterdir()}
    assert {'variant.json', 'metadata.json', 'debug.log', 'progress.csv',
            'stdout.log'} <= names
    assert any(n.startswith('events.out.tfevents.') for n in names)
    assert [r['Epoch'] for r in read_csv(log_dir / 'progress.csv')] == ['0', '1']
    assert 'inside' in (log_dir / 'debug.log').read_text()
    assert 'printed line' in (log_dir / 'stdout.log').read_text()


def test_existing_dir_gets_suffix_unless_use_existing_dir():
    dirs = [pathlib.Path(my_exp().snapshot_dir).name for _ in range(3)]
    assert dirs == ['my_exp', 'my_exp_1', 'my_exp_2']
    same = my_exp({'use_existing_dir': True})
    assert pathlib.Path(same.snapshot_dir).name == 'my_exp'


def test_variant_is_garages_flat_dict_with_defaults_and_metadata_says_what_was_passed():
    """garage's variant.json is the flat dict of the call's keyword arguments
    (``json.load(f)['seed']`` works); repro adds the defaults, and lists the
    passed names in metadata.json."""
    ctxt = my_exp(seed=9)
    variant = json.loads(pathlib.Path(ctxt.snapshot_dir, 'variant.json').read_text())
    assert variant == {'seed': 9, 'lr': 0.5}
    meta = json.loads(pathlib.Path(ctxt.snapshot_dir, 'metadata.json').read_text())
    assert meta['passed_parameters'] == ['seed']


def test_metadata_records_seed_determinism_and_launcher():
    ctxt = my_exp(seed=11)
    meta = json.loads(pathlib.Path(ctxt.snapshot_dir, 'metadata.json').read_text())
    assert meta['seed'] == 11
    assert meta['determinism']['deterministic'] is True
    assert meta['status'] == 'succeeded'
    assert meta['launcher'] == os.path.join('tests', 'unit', 'experiment',
                                            'test_wrap_experiment.py') \
        or meta['launcher'].endswith('test_wrap_experiment.py')
    assert meta['function'] == 'my_exp'


def test_options_dict_overrides_per_call(tmp_path):
    ctxt = my_exp({'log_dir': str(tmp_path / 'here'), 'snapshot_mode': 'all'}, seed=1)
    assert ctxt.snapshot_dir == str(tmp_path / 'here')
    assert ctxt.snapshot_mode == 'all'


def test_unknown_option_key_is_a_clear_error_and_creates_nothing():
    with pytest.raises(ConfigError, match='unknown wrap_experiment option.*snapshot_mod'):
        my_exp({'snapshot_mod': 'all'})
    assert not pathlib.Path('data').exists()


def test_unknown_keyword_argument_creates_nothing():
    with pytest.raises(ConfigError, match='unexpected keyword'):
        my_exp(sed=1)
    assert not pathlib.Path('data').exists()


def test_positional_non_dict_argument_is_rejected():
    with pytest.raises(ConfigError, match='keyword arguments'):
        my_exp(5)


def test_first_parameter_must_be_ctxt():
    with pytest.raises(ConfigError, match="'ctxt'"):
        @wrap_experiment
        def bad(seed=0):
            pass


def test_bare_decorator_and_name_prefix_options():
    @wrap_experiment
    def bare(ctxt=None):
        return ctxt

    @wrap_experiment(prefix='group', name='custom', name_parameters='all',
                     archive_launch_repo=False)
    def named(ctxt=None, seed=0):
        return ctxt

    assert bare.__name__ == 'bare'
    assert pathlib.Path(bare({'archive_launch_repo': False}).snapshot_dir).parts[-3:] == \
        ('local', 'experiment', 'bare')
    assert pathlib.Path(named(seed=5).snapshot_dir).parts[-2:] == ('group', 'custom_seed_5')


def test_seed_page_naming_example():
    """name_parameters=True puts the parameters in the name: experiment_seed_0."""
    @wrap_experiment(name_parameters=True, archive_launch_repo=False)
    def experiment(ctxt=None, seed=1):
        return ctxt

    assert pathlib.Path(experiment(seed=0).snapshot_dir).name == 'experiment_seed_0'


def test_invalid_snapshot_options_fail_at_decoration():
    with pytest.raises(ConfigError):
        wrap_experiment(snapshot_mode='sometimes')
    with pytest.raises(ConfigError):
        wrap_experiment(snapshot_mode='last', snapshot_gap=3)


def test_exception_still_flushes_and_closes_every_output():
    @wrap_experiment(archive_launch_repo=False)
    def crashing(ctxt=None):
        logger.log('before the crash')
        tabular.record('Epoch', 0)
        logger.log(tabular)
        logger.dump_all(0)
        tabular.record('Epoch', 1)
        logger.log(tabular)  # recorded but never dumped by the experiment
        raise RuntimeError('boom')

    with pytest.raises(RuntimeError, match='boom'):
        crashing()
    log_dir = pathlib.Path('data/local/experiment/crashing')
    debug = (log_dir / 'debug.log').read_text()
    assert 'before the crash' in debug and 'RuntimeError: boom' in debug
    assert [r['Epoch'] for r in read_csv(log_dir / 'progress.csv')] == ['0', '1']
    meta = json.loads((log_dir / 'metadata.json').read_text())
    assert meta['status'] == 'failed'
    assert not logger._outputs  # nothing left open
    assert not logger._prefixes


def test_streams_are_restored_after_the_experiment(capsys):
    import sys
    before = sys.stdout
    my_exp()
    assert sys.stdout is before
    print('after')
    log_text = pathlib.Path('data/local/experiment/my_exp/stdout.log').read_text()
    assert 'after' not in log_text


def test_nested_experiment_leaves_the_outer_logs_alone():
    @wrap_experiment(archive_launch_repo=False)
    def inner(ctxt=None):
        tabular.record('I', 1)
        logger.log(tabular)
        logger.dump_all(0)

    @wrap_experiment(archive_launch_repo=False)
    def outer(ctxt=None):
        tabular.record('O', 1)
        logger.log(tabular)
        logger.dump_all(0)
        tabular.clear()
        tabular.record('pending', 5)
        inner()
        logger.log('after inner')
        tabular.record('O', 2)
        logger.log(tabular)
        logger.dump_all(1)

    outer()
    root = pathlib.Path('data/local/experiment')
    assert (root / 'outer' / 'progress.csv').read_text() == 'O,pending\n1,\n2,5\n'
    assert (root / 'inner' / 'progress.csv').read_text() == 'I\n1\n'
    assert 'after inner' in (root / 'outer' / 'debug.log').read_text()


def test_awkward_parameter_values_still_give_valid_json():
    @wrap_experiment(archive_launch_repo=False)
    def odd(ctxt=None, p=None, x=0.0):
        return ctxt

    ctxt = odd(p={(1, 2): 3, 1: 'a', 'b': float('nan')}, x=float('inf'))
    variant = json.loads(pathlib.Path(ctxt.snapshot_dir, 'variant.json').read_text())
    assert variant == {'p': {'(1, 2)': 3, '1': 'a', 'b': 'nan'}, 'x': 'inf'}


@pytest.mark.parametrize('options', [
    {'log_dir': 123}, {'prefix': None}, {'prefix': '../up'}, {'archive_launch_repo': 'yes'},
    {'name': 5},
])
def test_wrongly_typed_options_are_config_errors(options):
    with pytest.raises(ConfigError):
        my_exp(options)
    assert not pathlib.Path('data').exists()


def test_parameter_values_cannot_escape_the_log_directory():
    @wrap_experiment(archive_launch_repo=False, name_parameters='passed')
    def exp(ctxt=None, path=''):
        return ctxt

    ctxt = exp(path='../../../../escape me')
    resolved = pathlib.Path(ctxt.snapshot_dir).resolve()
    assert resolved.parent == pathlib.Path('data/local/experiment').resolve()
    assert resolved.name.startswith('exp_path_') and resolved.name.endswith('escape_me')
