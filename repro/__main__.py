"""The ``repro`` command's entry point: the console script and ``python -m repro``.

:func:`collect_less` runs before anything else is imported. Starting a
command creates some 300,000 objects (typer, docker-py, repro's modules)
that all live until the exit; with the collector's default first threshold
(a collection every 700 new objects) they are traversed again and again,
12-14 ms of every command here (about 7 % of its imports;
``bench/startup.py``). A threshold of 50,000 keeps almost all of that gain
and still collects cycles, so a long-running command (``repro ui``, a
sweep that follows its members) does not grow.
"""
import gc
import sys

FIRST_THRESHOLD = 50_000


def collect_less():
    """Collect the youngest generation every FIRST_THRESHOLD new objects."""
    gc.set_threshold(FIRST_THRESHOLD, *gc.get_threshold()[1:])


def command(run):
    """Be a command-line process: :func:`collect_less`, ``run()`` (which
    imports what it needs), then exit with its code. What the command made
    is freed by the exit anyway: freezing it first keeps the collections of
    the interpreter's teardown from walking it (about 60 ms a command with
    docker-py loaded). Exit handlers, flushes and finalizers still run."""
    collect_less()
    code = run()
    gc.freeze()
    sys.exit(code)


def main():
    """The ``repro`` command."""
    def run():
        from repro.cli import main as cli_main
        return cli_main()
    command(run)


if __name__ == '__main__':
    main()
