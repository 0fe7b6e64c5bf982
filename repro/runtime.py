"""The in-container entry point: ``python -m repro.runtime LAUNCHER [ARGS…]``.

Seeds every generator and sets the deterministic flags from the environment
``repro run`` passes (REPRO_SEED, REPRO_DETERMINISTIC), records what was set
for the manifest, then runs the launcher as ``__main__`` with its arguments
verbatim. SIGTERM (``docker stop``) stops the launcher as Ctrl-C would
(:mod:`repro.experiment.stopping`) and the exit code is then
``contract.EXIT_STOPPED``. Needs only the library's light dependencies.
"""
import json
import os
import runpy
import sys

from repro import contract
def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv:
        print('usage: python -m repro.runtime LAUNCHER [ARGS...]', file=sys.stderr)
        return 2
    launcher, args = argv[0], argv[1:]
    from repro.experiment import deterministic, stopping
    stopping.install()  # as PID 1, SIGTERM would otherwise be ignored
    record = {}
    if os.environ.get(contract.ENV_SEED) not in (None, ''):
        record = deterministic.set_seed(
            int(os.environ[contract.ENV_SEED]),
            deterministic=os.environ.get(contract.ENV_DETERMINISTIC, '1') != '0')
    sys.argv = [launcher, *args]
    sys.path.insert(0, os.path.dirname(os.path.abspath(launcher)))
    code = 0
    try:
        runpy.run_path(launcher, run_name='__main__')
    except stopping.Stopped as stop:
        print(f'repro.runtime: {stop}', file=sys.stderr)
        code = contract.EXIT_STOPPED
    finally:
        # At the end, so torch's flags are included if the launcher imported it.
        _write_record(deterministic.get_determinism_record() if record else {})
    return code


def _write_record(record):
    """The report for the host, in the outputs (the only place we can write).

    Best effort: whatever the launcher left at that path (a file, a link) is
    replaced, and a failure never turns a finished run into a failed one;
    the host reads the report as untrusted input anyway.
    """
    path = os.environ.get(contract.ENV_REPORT)
    if not path:
        return
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if os.path.lexists(path):
            os.unlink(path)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        with os.fdopen(fd, 'w') as f:
            json.dump(record, f, indent=2, sort_keys=True)
    except OSError as exc:
        print(f'repro.runtime: cannot write the determinism report: {exc}', file=sys.stderr)


if __name__ == '__main__':
    sys.exit(main())
