import warnings

import numpy as np
import pytest

from repro.log import CsvOutput, Logger, LoggerWarning, TabularInput, TextOutput
from tests.helpers import read_csv


def test_csv_keeps_keys_that_appear_after_the_first_dump(tmp_path):
    path = tmp_path / 'progress.csv'
    log, tab = Logger(), TabularInput()
    log.add_output(CsvOutput(str(path)))
    tab.record('a', 1)
    log.log(tab)
    log.dump_all(0)
    tab.clear()
    tab.record('a', 2)
    tab.record('late', 0.5)
    log.log(tab)
    log.dump_all(1)
    tab.clear()
    tab.record('late', 7)
    log.log(tab)
    log.dump_all(2)
    log.remove_all()
    assert path.read_text() == 'a,late\n1,\n2,0.5\n,7\n'


def test_csv_has_one_row_per_log_and_is_readable_after_each_dump(tmp_path):
    path = tmp_path / 'progress.csv'
    log, tab = Logger(), TabularInput()
    log.add_output(CsvOutput(str(path)))
    for i in range(3):
        tab.record('Epoch', i)
        tab.record('Value', np.float32(0.25) * i)
        log.log(tab)
        log.dump_all(i)
        assert len(read_csv(path)) == i + 1  # flushed at every dump
    log.remove_all()
    assert [r['Value'] for r in read_csv(path)] == ['0.0', '0.25', '0.5']


def test_tabular_keeps_only_primitive_values_for_files():
    tab = TabularInput()
    tab.record('n', np.int64(3))
    tab.record('x', np.array(1.5))
    tab.record('arr', np.ones(3))
    tab.record('s', 'text')
    assert tab.as_primitive_dict == {'n': 3, 'x': 1.5, 's': 'text'}


def test_tabular_prefix_and_misc_stats():
    """dowel: the prefix applies to misc stats; 'back' (the default) puts
    the statistic after the key."""
    tab = TabularInput()
    with tab.prefix('Eval/'):
        tab.record_misc_stat('Return', [1.0, 2.0, 3.0])
    d = tab.as_dict
    assert d['Eval/ReturnAverage'] == 2.0
    assert d['Eval/ReturnMax'] == 3.0 and d['Eval/ReturnMin'] == 1.0
    assert 'Eval/ReturnStd' in d and 'Eval/ReturnMedian' in d


def test_text_output_has_prefix_and_table(tmp_path):
    path = tmp_path / 'debug.log'
    log, tab = Logger(), TabularInput()
    log.add_output(TextOutput(str(path)))
    with log.prefix('[exp] '):
        log.log('hello')
    tab.record('Loss', 0.5)
    log.log(tab)
    log.remove_all()
    text = path.read_text()
    assert '| [exp] hello' in text
    assert 'Loss' in text and '0.5' in text


def test_logger_warns_once_without_outputs():
    log = Logger()
    with pytest.warns(LoggerWarning) as caught:
        log.log('x')
    assert 'No outputs' in str(caught[0].message)
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        log.log('x')


def test_logger_rejects_output_classes():
    with pytest.raises(ValueError):
        Logger().add_output(TextOutput)
