"""One error hierarchy for repro.

Every error a user can cause is a :class:`ReproError` with a one-line message
and an optional hint. The CLI maps these to exit codes in one place
(:mod:`repro.cli`); library code raises them and never exits.

Errors that garage raised as ``ValueError`` also subclass ``ValueError`` so
launchers written against garage keep catching what they used to.
"""


class ReproError(Exception):
    """Base class: a user-facing problem with a short message and a hint."""

    exit_code = 2

    def __init__(self, message, hint=None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self):
        return self.message if not self.hint else f'{self.message} ({self.hint})'


class ConfigError(ReproError, ValueError):
    """An option, argument or configuration value is invalid."""


class NotSetupError(ReproError, RuntimeError):
    """A runner method was called before the runner was set up."""


class SnapshotNotFoundError(ReproError, FileNotFoundError):
    """No snapshot file matches what was asked for."""


class RunNotFoundError(ReproError):
    """No run matches the given id or prefix."""


class AmbiguousRunError(ReproError):
    """A run id prefix matches more than one run."""


class SweepNotFoundError(RunNotFoundError):
    """No sweep matches the given id or prefix."""


class StoreError(ReproError):
    """The run store is unreadable, unwritable or inconsistent."""


class InUseError(StoreError):
    """A run that a replay or a sweep refers to, or that still runs: ``repro
    rm`` keeps it unless forced."""


class UntrustedFileError(StoreError):
    """A file in a run directory or the store is not one repro reads safely:
    a link, FIFO or device, too large, not UTF-8, or malformed."""


class SourceError(ReproError):
    """The launcher's source tree cannot be snapshotted (e.g. not in git)."""


class LockError(ReproError):
    """The dependency lock is missing, stale or cannot be produced."""


class EngineError(ReproError):
    """The container engine is unreachable or refused an operation."""


class EngineLostError(EngineError):
    """The engine went away while a container ran (dockerd stopped or crashed)."""


class SlurmError(EngineError):
    """Slurm is missing, unreachable or refused a request."""


class BaseImageError(ReproError):
    """The base image cannot be made or is missing."""


class BuildError(ReproError):
    """The run image could not be built."""


class VerificationError(ReproError):
    """A run's files or manifest do not match what was recorded."""

    exit_code = 3


class ReplayError(ReproError):
    """A run cannot be replayed (unfinished, missing inputs, unbuildable image)."""



class ServeError(ReproError):
    """``repro ui`` cannot listen where it was asked to (a port in use, an
    address not of this machine)."""


class KeyFileError(ReproError):
    """A signing or public key cannot be made, read or used (missing, wrong
    passphrase, not ed25519, readable by others)."""


class SignatureError(VerificationError):
    """A run's attestation is missing, malformed, or not signed by the given key."""

    exit_code = 6


class StatementMismatchError(VerificationError):
    """The signed statement and the run's manifest disagree: the manifest was
    edited (and perhaps re-sealed) after it was signed."""

    exit_code = 7


class PolicyError(VerificationError):
    """A verified run breaks a rule of the audit policy."""

    exit_code = 8
