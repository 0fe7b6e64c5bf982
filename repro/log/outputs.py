"""Log outputs: standard output, a text file and a CSV file (dowel's).

Each takes the types in ``types_accepted`` and raises ValueError for any
other; for a TabularInput it marks the keys it took.
"""
import csv
import datetime
import io
import os
import sys

from repro.core._fs import atomic_writer
from repro.log.tabular import TabularInput


def _stamp(prefix, text):
    now = datetime.datetime.now().strftime('%Y-%m-%d %H:%M:%S')
    return f'{now} | {prefix}{text}'


class LogOutput:
    """Base class. Subclasses set ``types_accepted`` and implement record."""

    types_accepted = ()

    def record(self, data, prefix=''):
        raise NotImplementedError

    def check_type(self, data):
        if not isinstance(data, self.types_accepted):
            raise ValueError('Unacceptable type.')

    def dump(self, step=None):
        """Write what was recorded since the last dump (default: nothing)."""

    def close(self):
        """Flush and release resources."""


class StdOutput(LogOutput):
    """Messages with a timestamp and tables, printed to ``sys.stdout``."""

    types_accepted = (str, TabularInput)

    def __init__(self, with_timestamp=True):
        self._with_timestamp = with_timestamp

    def record(self, data, prefix=''):
        self.check_type(data)
        if isinstance(data, str):
            print(_stamp(prefix, data) if self._with_timestamp else prefix + data)
        else:
            print(str(data))
            data.mark_str()

    def dump(self, step=None):
        sys.stdout.flush()


class TextOutput(LogOutput):
    """Messages and tables appended to a text file (``debug.log``)."""

    types_accepted = (str, TabularInput)

    def __init__(self, file_name, with_timestamp=True):
        os.makedirs(os.path.dirname(os.path.abspath(file_name)), exist_ok=True)
        self._file = open(file_name, 'a', encoding='utf-8')
        self._with_timestamp = with_timestamp

    def record(self, data, prefix=''):
        self.check_type(data)
        if isinstance(data, str):
            text = _stamp(prefix, data) if self._with_timestamp else prefix + data
        else:
            text = str(data)
            data.mark_str()
        self._file.write(text + '\n')

    def dump(self, step=None):
        self._file.flush()

    def close(self):
        if not self._file.closed:
            self._file.close()


class CsvOutput(LogOutput):
    """One row per ``logger.log(tabular)`` in ``progress.csv``, as in dowel.

    Unlike dowel, columns are the sorted keys (dowel's order changes with
    PYTHONHASHSEED), and a key that first appears after the first row is
    kept: the file is rewritten with the wider header and earlier rows get
    an empty cell (dowel drops the key with a warning). A record with no
    primitive value writes no row. Only deterministic values belong here, so
    two runs with the same seed give byte-identical files.
    """

    types_accepted = (TabularInput,)

    def __init__(self, file_name):
        os.makedirs(os.path.dirname(os.path.abspath(file_name)), exist_ok=True)
        self._path = file_name
        self._file = open(file_name, 'w', encoding='utf-8', newline='')
        self._fieldnames = []
        self._rows = []

    def record(self, data, prefix=''):
        self.check_type(data)
        row = data.as_primitive_dict
        for key in row:
            data.mark(key)
        if not row:
            return
        self._rows.append(row)
        if set(row) - set(self._fieldnames):
            self._fieldnames = sorted(set(self._fieldnames) | set(row))
            self._rewrite()
        else:
            self._write_rows(self._file, [row], header=False)

    def dump(self, step=None):
        self._file.flush()

    def _write_rows(self, f, rows, header):
        writer = csv.DictWriter(f, fieldnames=self._fieldnames,
                                lineterminator='\n')
        if header:
            writer.writeheader()
        writer.writerows(rows)

    def _rewrite(self):
        buf = io.StringIO()
        self._write_rows(buf, self._rows, header=True)
        self._file.close()
        with atomic_writer(self._path, 'w', fsync=False) as f:
            f.write(buf.getvalue())
        self._file = open(self._path, 'a', encoding='utf-8', newline='')

    def close(self):
        if not self._file.closed:
            self._file.close()
