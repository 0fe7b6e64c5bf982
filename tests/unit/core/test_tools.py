"""Failing tools become one line: the tool and why."""
import sys

import pytest

from repro.errors import LockError, SourceError
from repro.record.tools import run_tool, telling_line


@pytest.mark.parametrize('output, line', [
    ('Collecting x\nERROR: No matching distribution found for x\n\n',
     'ERROR: No matching distribution found for x'),
    ("hint: x\nfatal: index.lock exists\nhint: y", 'fatal: index.lock exists'),
    (b'first\nlast \x1b[2J\n', 'last \\x1b[2J'),
    ('', 'no output'),
    ('x' * 1000, 'x' * 300 + '…'),
])
def test_the_telling_line(output, line):
    assert telling_line(output) == line


def test_a_failing_tool_is_one_line_naming_it():
    with pytest.raises(LockError) as info:
        run_tool([sys.executable, '-c', 'import sys; print("noise", file=sys.stderr); '
                  'sys.exit("ERROR: the real reason")'], error=LockError, what='pip-compile')
    assert str(info.value) == 'pip-compile failed: ERROR: the real reason'


def test_a_tool_that_cannot_start_is_one_line():
    with pytest.raises(SourceError, match='git diff could not start: No such file'):
        run_tool(['/nonexistent/git'], error=SourceError, what='git diff')


def test_a_tool_that_succeeds_returns_its_output():
    assert run_tool([sys.executable, '-c', 'print(42)'], error=LockError,
                    what='x').stdout == '42\n'
