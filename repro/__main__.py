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

FIRST_THRESHOLD = 50_000


def collect_less():
    """Collect the youngest generation every FIRST_THRESHOLD new objects."""
    gc.set_threshold(FIRST_THRESHOLD, *gc.get_threshold()[1:])


def main():
    collect_less()
    from repro.cli import entry
    entry()


if __name__ == '__main__':
    main()
