"""The ``repro`` command line: a thin Typer layer over the core library.

Each command parses, calls one core function and renders. Errors from the
core are :class:`repro.errors.ReproError`; :func:`main` turns them into a
one-line message and an exit code, here and nowhere else. Heavy imports
happen inside commands so ``repro --help`` stays fast.
"""
import gc
import sys

import typer

from repro import __version__
app = typer.Typer(
    name='repro',
    help='Reproducible ML and RL experiment runs, end to end.',
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: importing rich would double start-up time
)


@app.callback()
def _root():
    """Reproducible ML and RL experiment runs, end to end."""


@app.command()
def version():
    """Print repro's version."""
    typer.echo(__version__)


def _register():
    """Commands live one per module; their bodies import the core lazily."""
    from repro.cli import (base, build, diff, export, housekeeping, key, lock, plot, replay,
                           run, runs, sign, sweep, ui, verify)
    app.command('base')(base.base)
    app.command('build')(build.build)
    app.command('lock')(lock.lock)
    app.command('run')(run.run)
    app.command('replay')(replay.replay)
    app.command('sweep')(sweep.sweep)
    app.command('ls')(runs.ls)
    app.command('show')(runs.show)
    app.command('verify')(verify.verify)
    app.command('sign')(sign.sign)
    app.add_typer(key.app, name='key')
    app.command('export')(export.export)
    app.command('diff')(diff.diff)
    app.command('plot')(plot.plot)
    app.command('du')(housekeeping.du)
    app.command('rm')(housekeeping.rm)
    app.command('gc')(housekeeping.gc)
    app.command('ui')(ui.ui)


_register()


def _watch_sigint():
    """Remember a Ctrl-C, then raise KeyboardInterrupt as Python would.

    Ctrl-C also reaches child processes (git, pip): one of them may fail
    first and surface as some other error. Knowing a SIGINT arrived lets
    :func:`main` report what happened, an interruption.
    """
    import signal
    seen = []

    def handler(signum, frame):
        seen.append(signum)
        signal.default_int_handler(signum, frame)
    try:
        signal.signal(signal.SIGINT, handler)
    except ValueError:  # not the main thread (e.g. called from a test thread)
        pass
    return seen


def entry():
    """The ``repro`` command: :func:`main`, then exit.

    What the command made is freed by the exit anyway: freezing it first
    keeps the collections of the interpreter's teardown from walking it
    (about 60 ms a command). Exit handlers, flushes and finalizers still
    run as usual.
    """
    code = main()
    gc.freeze()
    sys.exit(code)


def main(argv=None):
    """Run the app; map errors to one line and an exit code."""
    from repro.errors import ReproError
    sigints = _watch_sigint()
    try:
        result = app(args=argv, standalone_mode=False)
    except (typer.Abort, KeyboardInterrupt):
        typer.echo('repro: interrupted', err=True)
        return 130
    except SystemExit as exc:
        return exc.code
    except Exception as exc:
        if sigints:  # a child killed by the same Ctrl-C failed first
            typer.echo('repro: interrupted', err=True)
            return 130
        if isinstance(exc, ReproError):
            typer.echo(f'repro: error: {exc}', err=True)
            return exc.exit_code
        if isinstance(exc, OSError):  # disk full, permissions: one line, no traceback
            where = f': {exc.filename}' if exc.filename else ''
            typer.echo(f'repro: error: {exc.strerror or exc}{where}', err=True)
            return 1
        # Usage errors from click (vendored inside newer typer releases).
        if hasattr(exc, 'format_message') and isinstance(getattr(exc, 'exit_code', None), int):
            ctx = getattr(exc, 'ctx', None)
            where = f'{ctx.command_path} --help' if ctx is not None else 'repro --help'
            message = ' '.join(exc.format_message().split())
            typer.echo(f'repro: error: {message} (see {where})', err=True)
            return exc.exit_code
        raise
    # A command that raised typer.Exit(code) returns that code here; typer
    # also turns a KeyboardInterrupt into Exit(130), silently.
    code = result if isinstance(result, int) else 0
    if code == 130:
        typer.echo('repro: interrupted', err=True)
    return code


if __name__ == '__main__':
    entry()
