"""One run's own settings, where its output goes, and what came of it.

What differs between runs of one prepared snapshot and image (seed,
arguments, flags) is a :class:`RunSpec`, so a sweep is many specs over one
:class:`repro.execute.prepare.PreparedRun`, and a replay is the recorded spec.
"""
import dataclasses
import sys
import threading
from typing import BinaryIO, Callable, NamedTuple, Optional, Tuple


@dataclasses.dataclass(frozen=True)
class RunSpec:
    """What to run in the prepared image, and with which permissions.

    ``args`` are what the script gets; ``args_written`` what the user wrote
    (with ``{seed}`` unexpanded), recorded when they differ. ``network`` and
    ``network`` is the user's permission, never a manifest's; ``gpus`` a replay
    takes from the manifest (a GPU changes numerics, not what a run can reach).
    """
    launcher: str                 # relative to the project root, as in the snapshot
    seed: Optional[int]
    args: Tuple[str, ...] = ()
    args_written: Optional[Tuple[str, ...]] = None
    gpus: Optional[str] = None
    network: bool = False
    replay_of: Optional[str] = None
    threads: Optional[int] = None   # torch/BLAS threads, fixed (None: the image's default)
    sweep: Optional[dict] = None    # {id, index, params} of a sweep member
    cpuset: Optional[str] = None    # CPUs to pin to: placement, not recorded
    resume_from: Optional[str] = None  # a run whose outputs this one continues (read-only)

    def command_line(self):
        """The ``repro run`` command that makes this run (the manifest's ``command``)."""
        cmd = ['repro', 'run', self.launcher]
        if self.seed is not None:
            cmd += ['--seed', str(self.seed)]
        if self.threads is not None:
            cmd += ['--threads', str(self.threads)]
        if self.gpus:
            cmd += ['--gpus', self.gpus]
        if self.network:
            cmd.append('--network')
        written = list(self.args_written or self.args)
        return cmd + (['--', *written] if written else [])


@dataclasses.dataclass(frozen=True)
class RunIO:
    """Where a run's container output and repro's progress lines go.

    ``output`` is a binary stream (None: this process's stdout); the core
    never prints by itself.
    """
    output: Optional[BinaryIO] = None
    progress: Callable[[str], None] = print
    stop: Optional['StopSignal'] = None

    @property
    def stream(self):
        return self.output or sys.stdout.buffer


class RunResult(NamedTuple):
    """A finished run: its id, final status and the exit code to report."""
    run_id: str
    status: str
    exit_code: Optional[int]


class StopSignal:
    """Stops runs that other threads execute (a sweep's Ctrl-C or cancel).

    Only the main thread sees Ctrl-C; it calls :meth:`stop`, which stops
    every container started so far, and any container that starts later is
    stopped at once. Runs that stopped this way are ``interrupted``.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._containers = set()
        self._engine = None
        self.is_set = False

    def started(self, engine, container_id):
        with self._lock:
            self._engine = engine
            self._containers.add(container_id)
            stopped = self.is_set
        if stopped:
            engine.stop_container(container_id)

    def stop(self):
        """Stop every container, all at once: each may take the engine's
        grace period (a process that ignores SIGTERM, as PID 1 does)."""
        with self._lock:
            self.is_set = True
            containers, engine = list(self._containers), self._engine
        stoppers = [threading.Thread(target=_stop_quietly, args=(engine, c), daemon=True)
                    for c in containers]
        for thread in stoppers:
            thread.start()
        for thread in stoppers:
            thread.join()


def _stop_quietly(engine, container_id):
    try:
        engine.stop_container(container_id)
    except Exception:  # noqa: BLE001 - best effort: it may be gone already; the run's
        pass           # own engine.run removes it, and the reaper covers a dead repro
