"""``repro run``: check the request, prepare, execute.

:func:`run` is the command line's entry: it checks the launcher and
arguments, reads the project's config and lock, and only then asks for an
engine, so a bad request is reported without touching one. The work is
:func:`repro.execute.prepare.prepare` (source, lock, image: shared by every run of
one snapshot) and :func:`repro.execute.container.execute` (one run, one manifest).
"""
import os

from repro import contract

from repro.core import safefs
from repro.errors import ConfigError, SourceError
from repro.execute.runspec import RunIO, RunSpec


def resolve_launcher(launcher):
    """(project root, launcher path relative to it) or a one-line error."""
    from repro.record.project import find_project_root
    shown = safefs.display(launcher)
    if not safefs.is_utf8(launcher):
        raise SourceError(f'launcher name is not UTF-8 text: {shown}', 'rename it')
    path = os.path.abspath(launcher)
    if os.path.isdir(path):
        raise SourceError(f'launcher is a directory, not a script: {shown}')
    if not os.path.isfile(path):
        raise SourceError(f'launcher not found: {shown}')
    root = find_project_root(os.path.dirname(path))
    # The container sees the snapshot, not links out of it: refuse up front.
    real_root = os.path.realpath(root)
    if os.path.commonpath([real_root, os.path.realpath(path)]) != real_root:
        raise SourceError(f'launcher {shown} is outside the repository {safefs.display(root)} '
                          '(through a link)', 'copy the script into the repository')
    return root, os.path.relpath(path, root).replace(os.sep, '/')


def check_inputs(seed, args):
    """Seed and arguments a manifest can record faithfully, or a usage error."""
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)
                             or not 0 <= seed <= contract.MAX_SEED):
        raise ConfigError(f'invalid seed {seed!r}: use an integer from 0 to '
                          f'{contract.MAX_SEED} (2**32 - 1)')
    for arg in args:
        if not safefs.is_utf8(arg) or '\0' in arg:
            raise ConfigError(f'argument {safefs.display(arg)} is not UTF-8 text')


def run(launcher, *, connect, seed=0, args=(), gpus=None, network=False, progress=print,
        output=None, threads=None):
    """Run ``launcher`` in its image; a :class:`repro.execute.runspec.RunResult`.

    ``connect()`` returns the container engine; it is called once the
    request, config and lock are known to be good.
    """
    from repro.execute.container import execute
    from repro.execute.launchargs import expand_seed, seed_conflicts
    from repro.execute.prepare import prepare, read_inputs
    from repro.record.gitsource import BackgroundScan
    from repro.store.runs import RunStore
    check_inputs(seed, list(args))
    root, launcher_rel = resolve_launcher(launcher)
    written = tuple(args)
    expanded = tuple(expand_seed(list(written), seed)) if seed is not None else written
    for warning in seed_conflicts(list(written), seed) if seed is not None else ():
        progress(f'warning: {warning}')
    inputs = read_inputs(root)
    # The source scan (GitPython's import, git's processes) runs beside
    # docker-py's import and the engine's answer: 30-40 ms of a warm run on
    # two cores, more on a large tree.
    with BackgroundScan(root) as scan:
        engine = connect()
        store = RunStore.for_project(root).ensure()
        prepared = prepare(inputs, store, engine, progress, launchers=[launcher_rel],
                           scan=scan)
    spec = RunSpec(launcher_rel, seed, expanded, written, gpus, bool(network), threads=threads)
    return execute(engine, store, spec, prepared, RunIO(output, progress))
