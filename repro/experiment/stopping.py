"""Stopping on SIGTERM: as on Ctrl-C, but never inside an epoch's snapshot-and-dump.

In a run's container the runtime is PID 1, and the kernel gives PID 1 no
default action for SIGTERM: without a handler ``docker stop`` (a sweep's
cancel, a Slurm requeue) waited its 10 s grace and then killed the process.
:func:`install` (the runtime calls it) makes SIGTERM raise :class:`Stopped`,
a ``KeyboardInterrupt``, so a script stops as it would on Ctrl-C: ``finally``
blocks run and the experiment is recorded ``interrupted``.

``LocalRunner`` ends each epoch inside :func:`deferred`: a SIGTERM that comes
while it dumps the logs and saves the snapshot is raised when both are done,
so the stopped run leaves a complete snapshot of its last epoch to resume
from. Anywhere else the signal is raised at once; the epoch in progress is
lost and done again by the next attempt.
"""
import contextlib
import signal


class Stopped(KeyboardInterrupt):
    """SIGTERM: the run was stopped from outside (a cancel, a requeue)."""


_depth = 0          # how many deferred() sections the main thread is in
_pending = False    # a SIGTERM came inside one


def install():
    """Make SIGTERM raise :class:`Stopped` in the main thread."""
    signal.signal(signal.SIGTERM, _on_signal)


def _on_signal(signum, frame):
    global _pending
    if _depth:
        _pending = True
        return
    raise Stopped(f'stopped by signal {signal.Signals(signum).name}')


@contextlib.contextmanager
def deferred():
    """A section that SIGTERM does not cut: it is raised when the section ends
    (if the section raised something else, that wins)."""
    global _depth, _pending
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
    if not _depth and _pending:
        _pending = False
        raise Stopped('stopped by signal SIGTERM (after the epoch\'s snapshot and logs)')
