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
        self.path = file_name
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

    @property
    def path(self):
        return self._path

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

    def resume_state(self):
        """What the file holds now, to cut an earlier copy back to (see
        :meth:`continue_from`): its header line, rows and size in bytes.

        The header is one new string, not the column names: those are
        shared with the code that recorded them, and pickle's bytes would
        depend on that sharing.
        """
        self._file.flush()
        return {'header': self._header(), 'rows': len(self._rows),
                'size': os.fstat(self._file.fileno()).st_size}

    def _header(self):
        buf = io.StringIO()
        csv.writer(buf, lineterminator='').writerow(self._fieldnames)
        return buf.getvalue()

    def continue_from(self, path, state):
        """Hold what the CSV file ``path`` (an earlier attempt's) held at
        ``state``, and append to it from there.

        The rows after ``state`` are dropped. A column added after it (which
        rewrote the file with a wider header) is dropped again, so the result
        is byte for byte what the file was; a ValueError if it cannot be.
        Returns a function that writes it (check everything, then write).
        """
        n_rows = state['rows']
        fieldnames = next(csv.reader([state['header']])) if state['header'] else []
        with open(path, encoding='utf-8', newline='') as f:
            reader = csv.reader(f)
            header = next(reader, [])
            rows = [dict(zip(header, row)) for _, row in zip(range(n_rows), reader)]
        if len(rows) != n_rows or not set(fieldnames) <= set(header):
            raise ValueError(f'{path} holds fewer rows or columns than its snapshot recorded')
        if any(value for row in rows for key, value in row.items() if key not in fieldnames):
            raise ValueError(f'{path} has values in columns its snapshot did not record')
        rows = [{key: row[key] for key in fieldnames} for row in rows]
        buf = io.StringIO()
        if fieldnames:
            csv.DictWriter(buf, fieldnames=fieldnames, lineterminator='\n').writeheader()
            csv.writer(buf, lineterminator='\n').writerows(
                [[row[key] for key in fieldnames] for row in rows])
        text = buf.getvalue()
        if len(text.encode('utf-8')) != state['size']:
            raise ValueError(f'{path} does not read back to the size its snapshot recorded')

        def write():
            self._file.close()
            with atomic_writer(self._path, 'w', fsync=False) as f:
                f.write(text)
            self._file = open(self._path, 'a', encoding='utf-8', newline='')
            self._fieldnames, self._rows = fieldnames, rows
        return write

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
