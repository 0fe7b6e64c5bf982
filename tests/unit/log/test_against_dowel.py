"""The same recordings through real dowel 0.0.3 and through repro.log.

Skipped unless dowel is importable (it is not a dependency: it needs
tabulate, tensorboardX, matplotlib and scipy). To run it, put a dowel 0.0.3
install on the path, e.g. ``pip install dowel==0.0.3`` into a scratch venv and
append its site-packages to ``sys.path`` before pytest starts.

Compared: CSV columns and rows (read with DictReader: dowel's column order
changes with PYTHONHASHSEED), ``record_misc_stat`` names, the
TabularInputWarning text and ``str(tabular)``. The intended differences are
left out: sorted columns, keys added after the first row, empty records, and
numpy float32 values in a text table (dowel's tabulate prints 0.1 as
0.10000000149011612).
"""
import re
import warnings

import numpy as np
import pytest

from repro import log as repro_log
from tests.helpers import read_csv

dowel = pytest.importorskip('dowel', reason='dowel 0.0.3 is not installed '
                            '(see this module\'s docstring to run the comparison)')
from dowel.tabular_input import TabularInputWarning as DowelWarning  # noqa: E402


def epochs(lib, path):
    """garage's epoch loop over two epochs, one logging twice; returns the
    TabularInput warnings."""
    logger, tabular = lib.Logger(), lib.TabularInput()
    logger.add_output(lib.CsvOutput(str(path)))
    caught = []
    for epoch in range(2):
        tabular.record('Epoch', epoch)
        tabular.record('Loss', np.float32(0.1) * (epoch + 1))
        tabular.record('Name', 'run')
        tabular.record('Info', {'not': 'a scalar'})
        tabular.record('Steps', np.int64(100 * epoch))
        tabular.record_misc_stat('Return', [1.0, 2.0, 4.0 * epoch])
        tabular.record_misc_stat('Q', np.array([0.5]), placement='front')
        tabular.record_misc_stat('Empty', [])
        with tabular.prefix('Eval/'):
            tabular.record_misc_stat('Return', None)
        logger.log(tabular)
        if epoch == 1:
            tabular.record('Loss', 0.0)
            logger.log(tabular)
        logger.dump_all(epoch)
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter('always')
            tabular.clear()
        caught += [re.sub(r'\x1b\[[0-9;]*m', '', str(w.message)) for w in seen
                   if issubclass(w.category, (DowelWarning, repro_log.TabularInputWarning))]
    logger.remove_all()
    return caught


def test_repro_writes_the_csv_dowel_writes(tmp_path):
    dowel_warnings = epochs(dowel, tmp_path / 'dowel.csv')
    repro_warnings = epochs(repro_log, tmp_path / 'repro.csv')
    dowel_rows = read_csv(tmp_path / 'dowel.csv')
    repro_rows = read_csv(tmp_path / 'repro.csv')
    assert len(dowel_rows) == 3  # one per logger.log(tabular)
    assert repro_rows == dowel_rows
    assert 'ReturnAverage' in repro_rows[0] and 'AverageQ' in repro_rows[0]
    assert repro_warnings == dowel_warnings == [
        'TabularInput {Info: type(dict)} was not accepted by any output']


@pytest.mark.parametrize('values', [
    {'foo': 123, 'bar': 456, 'baz': [1, 2]},
    {'Epoch': 3, 'Loss': 0.816496580927726, 'Big': 123456789.5, 'Tiny': 1e-10},
    {'a': 1.5, 'b': -22.25, 'c': 3, 'd': float('nan')},
    {'Name': 'run', 'Steps': 10, 'Ok': True, 'Rate': np.float64(0.5)},
    {'flag': True, 'n': np.int64(7), 'B': False},
])
def test_str_of_tabular_is_dowels_table(values):
    tables = []
    for lib in (dowel, repro_log):
        tabular = lib.TabularInput()
        for key, value in values.items():
            tabular.record(key, value)
        tables.append(str(tabular))
    assert tables[1] == tables[0]
