"""dowel 0.0.3's documented behaviour (the logger garage pins), on repro.log.

Each docstring names the dowel source or upstream test it follows
(tabular_input.py, logger.py, csv_output.py, simple_outputs.py and
tests/dowel/test_*.py of the dowel 0.0.3 sdist).
"""
import math
import warnings

import numpy as np
import pytest

from repro.log import (CsvOutput, Logger, LoggerWarning, StdOutput, TabularInput,
                       TabularInputWarning, TensorBoardOutput, TextOutput)
from repro.log.outputs import LogOutput
from tests.helpers import read_csv


def test_record_misc_stat_names_like_dowel():
    """tests/dowel/test_tabular_input.py::test_record_misc_stat: 'back' (the
    default) gives FooAverage, 'front' gives AverageBar; np.std is the
    population std."""
    tab = TabularInput()
    tab.record_misc_stat('Foo', [0, 1, 2])
    tab.record_misc_stat('Bar', [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], placement='front')
    assert tab.as_dict == {
        'FooAverage': 1.0, 'FooStd': 0.816496580927726, 'FooMedian': 1.0,
        'FooMin': 0, 'FooMax': 2,
        'AverageBar': 5.5, 'StdBar': 2.8722813232690143, 'MedianBar': 5.5,
        'MinBar': 1, 'MaxBar': 10,
    }
    assert list(tab.as_dict)[:5] == ['FooAverage', 'FooStd', 'FooMedian', 'FooMin', 'FooMax']


def test_any_other_placement_is_back():
    """tabular_input.py: only 'front' is special."""
    tab = TabularInput()
    tab.record_misc_stat('X', [1.0], placement='xyz')
    assert 'XAverage' in tab.as_dict


@pytest.mark.parametrize('values', [None, [], [1.0, math.nan], np.zeros(0)])
def test_record_misc_stat_gives_nans_instead_of_raising(values):
    """test_record_misc_stat_nan: ``record_misc_stat('none', None)`` records
    five NaNs; so do an empty list and a list holding a NaN."""
    tab = TabularInput()
    tab.record_misc_stat('none', values)
    assert set(tab.as_dict) == {'noneAverage', 'noneStd', 'noneMedian', 'noneMin', 'noneMax'}
    assert all(math.isnan(v) for v in tab.as_dict.values())


def test_record_misc_stat_takes_numpy_arrays():
    """Where dowel's ``if values:`` raises for arrays of two or more elements,
    repro takes them (an intended difference)."""
    tab = TabularInput()
    tab.record_misc_stat('R', np.array([1.0, 3.0]))
    assert tab.as_dict['RAverage'] == 2.0


def test_str_is_sorted_and_shows_only_primitive_values():
    """test_tabular_input.py::test_str, verbatim."""
    tab = TabularInput()
    tab.record('foo', 123)
    tab.record('bar', 456)
    tab.record('baz', [2, 4, 6, 8, 10, 12, 14, 16, 18, 20])
    assert str(tab) == '---  ---\nbar  456\nfoo  123\n---  ---'
    assert str(TabularInput()) == ''


def test_clear_warns_once_about_values_no_output_took():
    """test_clear_warns_not_recorded_once and tabular_input.py's message."""
    tab = TabularInput()
    tab.record('foo', 1)
    with pytest.warns(TabularInputWarning,
                      match=r'TabularInput \{foo: type\(int\)\} was not accepted by any output'):
        tab.clear()
    assert tab.as_dict == {}
    tab.record('foo', 1)
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        tab.clear()  # warned once already


def test_mark_and_mark_all_silence_clear_and_disable_warnings_is_a_method():
    """test_clear (mark_all) and test_disable_warnings."""
    tab = TabularInput()
    tab.record('a', 1)
    tab.record('b', {'not': 'primitive'})
    tab.mark('a')
    with pytest.warns(TabularInputWarning, match=r'\{b: type\(dict\)\}'):
        tab.clear()
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        tab.record('c', 1)
        tab.mark_all()
        tab.clear()
        tab.record('d', 2)
        tab.disable_warnings()
        tab.clear()


def test_outputs_mark_what_they_take(tmp_path):
    """LogOutput docs in logger.py: outputs mark each key they log; a dict
    value is accepted by record() and only warned about at clear()."""
    log, tab = Logger(), TabularInput()
    log.add_output(CsvOutput(str(tmp_path / 'p.csv')))
    log.add_output(TensorBoardOutput(str(tmp_path)))
    log.add_output(TextOutput(str(tmp_path / 'debug.log')))
    tab.record('x', 1.5)
    tab.record('s', 'text')
    tab.record('d', {'a': 1})
    log.log(tab)
    log.dump_all(0)
    with pytest.warns(TabularInputWarning) as caught:
        tab.clear()
    assert [str(w.message) for w in caught] == [
        'TabularInput {d: type(dict)} was not accepted by any output']
    log.remove_all()


def test_logger_disable_warnings_is_a_method():
    """test_logger.py::test_disable_warnings."""
    log = Logger()
    log.add_output(StdOutput())
    log.disable_warnings()
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        log.log({})


def test_log_without_outputs_warns_both_ways():
    """logger.py log(): no outputs, and then nothing took the data."""
    with pytest.warns(LoggerWarning) as caught:
        Logger().log('x')
    assert [str(w.message) for w in caught] == [
        'No outputs have been added to the logger.',
        'Log data of type str was not accepted by any output']


def test_add_output_rejects_what_is_not_an_output_instance():
    """test_add_uninstantiated_output / test_add_unknown_output, with
    logger.py's messages."""
    log = Logger()
    with pytest.raises(ValueError, match='must be instantiated'):
        log.add_output(StdOutput)
    with pytest.raises(ValueError, match='subclass of LogOutput'):
        log.add_output('foo')


def test_reset_output_replaces_outputs_of_the_same_type(tmp_path):
    """test_logger.py::test_reset_output; logger.py reset_output =
    remove_output_type(type(o)) + add_output(o)."""
    log = Logger()
    old, new = TextOutput(str(tmp_path / 'old.log')), TextOutput(str(tmp_path / 'new.log'))
    std = StdOutput()
    log.add_output(old)
    log.add_output(std)
    log.reset_output(new)
    assert log._outputs == [std, new]
    log.reset_output(new)  # the same instance again: still usable
    log.log('hello')
    log.remove_all()
    assert 'hello' in (tmp_path / 'new.log').read_text()
    assert 'hello' not in (tmp_path / 'old.log').read_text()


@pytest.mark.parametrize('make', [
    lambda p: StdOutput(), lambda p: TextOutput(str(p / 't.log')),
    lambda p: CsvOutput(str(p / 'p.csv')), lambda p: TensorBoardOutput(str(p))])
def test_outputs_refuse_data_of_other_types(tmp_path, make):
    """test_record_unknown / test_unacceptable_type / test_unknown_input_type:
    ``output.record(dict())`` raises ValueError."""
    output = make(tmp_path)
    with pytest.raises(ValueError, match='Unacceptable type'):
        output.record({})
    output.close()


def test_csv_writes_one_row_per_log(tmp_path):
    """test_csv_output.py::test_record: two records before one dump give two
    rows; values left in the tabular are repeated."""
    path = tmp_path / 'p.csv'
    log, tab = Logger(), TabularInput()
    log.add_output(CsvOutput(str(path)))
    tab.record('foo', 1)
    tab.record('bar', 10)
    log.log(tab)
    tab.record('foo', 2)
    log.log(tab)
    log.dump_all()
    assert read_csv(path) == [{'bar': '10', 'foo': '1'}, {'bar': '10', 'foo': '2'}]
    log.remove_all()


def test_csv_writes_nothing_for_an_empty_record_or_dump(tmp_path):
    """test_csv_output.py::test_empty_record: an empty tabular writes no
    header; and no blank row later either."""
    path = tmp_path / 'p.csv'
    log, tab = Logger(), TabularInput()
    log.add_output(CsvOutput(str(path)))
    log.log(tab)
    log.dump_all()
    assert path.read_text() == ''
    tab.record('foo', 1)
    log.log(tab)
    tab.clear()
    log.log(tab)
    log.dump_all()
    log.dump_all()
    log.remove_all()
    assert path.read_text() == 'foo\n1\n'


def test_nan_and_none_reach_the_csv_as_dowel_writes_them(tmp_path):
    """csv_output.py writes str(value): NaN as 'nan'; None is not primitive
    (np.isscalar(None) is False) and has no column."""
    path = tmp_path / 'p.csv'
    log, tab = Logger(), TabularInput()
    log.add_output(CsvOutput(str(path)))
    tab.record_misc_stat('R', None)
    tab.record('n', None)
    log.log(tab)
    log.remove_all()
    assert read_csv(path) == [{f'R{s}': 'nan' for s in
                               ('Average', 'Max', 'Median', 'Min', 'Std')}]


def test_tabular_input_warning_is_where_dowel_has_it():
    """dowel.tabular_input.TabularInputWarning, a UserWarning."""
    from repro.log.tabular import TabularInputWarning as Same
    assert Same is TabularInputWarning and issubclass(Same, UserWarning)
    assert issubclass(StdOutput, LogOutput)
