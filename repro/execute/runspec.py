"""One run's own settings, where its output goes, and what came of it.

What differs between runs of one prepared snapshot and image (seed,
arguments, flags) is a :class:`RunSpec`, so a sweep is many specs over one
:class:`repro.execute.prepare.PreparedRun`, and a replay is the recorded spec.
"""
import dataclasses
import sys
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

    def command_line(self):
        """The ``repro run`` command that makes this run (the manifest's ``command``)."""
        cmd = ['repro', 'run', self.launcher]
        if self.seed is not None:
            cmd += ['--seed', str(self.seed)]
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

    @property
    def stream(self):
        return self.output or sys.stdout.buffer


class RunResult(NamedTuple):
    """A finished run: its id, final status and the exit code to report."""
    run_id: str
    status: str
    exit_code: Optional[int]
