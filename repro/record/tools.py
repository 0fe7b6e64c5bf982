"""The one way repro runs an external tool and reports its failure.

pip-compile, pip download and git fail with pages of output; a user needs
one line: which tool, and the line of its stderr that says why (the last
non-empty one, or git's ``fatal:``/``error:`` line when there is one).
"""
import subprocess

from repro.core.safefs import display

MAX_LINE = 300


def telling_line(output):
    """The line of a tool's output that says why it failed (pure)."""
    if isinstance(output, bytes):
        output = output.decode('utf-8', 'replace')
    lines = [ln.strip() for ln in (output or '').splitlines() if ln.strip()]
    line = next((ln for ln in reversed(lines) if ln.startswith(('fatal:', 'error:', 'ERROR:'))),
                lines[-1] if lines else 'no output')
    line = display(line)
    return line if len(line) <= MAX_LINE else line[:MAX_LINE] + '…'


def run_tool(cmd, *, error, what, cwd=None, env=None, text=True):
    """``subprocess.run(cmd)`` with output captured; ``error(message)`` (a
    ReproError class) naming ``what`` and its telling line if it cannot
    start or exits non-zero."""
    try:
        result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=text)
    except OSError as exc:
        raise error(f'{what} could not start: {exc.strerror or exc}') from None
    if result.returncode != 0:
        raise error(f'{what} failed: {telling_line(result.stderr or result.stdout)}')
    return result
