"""The ``repro`` command line: a thin Typer layer over the core library.

Each command parses, calls one core function and renders. Errors from the
core are :class:`repro.errors.ReproError`; :func:`main` turns them into a
one-line message and an exit code, here and nowhere else. Heavy imports
happen inside commands so ``repro --help`` stays fast.
"""
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
    from repro.cli import base, build, diff, export, lock, plot, replay, run, runs, verify
    app.command('base')(base.base)
    app.command('build')(build.build)
    app.command('lock')(lock.lock)
    app.command('run')(run.run)
    app.command('replay')(replay.replay)
    app.command('ls')(runs.ls)
    app.command('show')(runs.show)
    app.command('verify')(verify.verify)
    app.command('export')(export.export)
    app.command('diff')(diff.diff)
    app.command('plot')(plot.plot)


_register()


def main(argv=None):
    """Console entry point: run the app, map ReproError to its exit code."""
    from repro.errors import ReproError
    try:
        result = app(args=argv, standalone_mode=False)
    except ReproError as exc:
        typer.echo(f'repro: error: {exc}', err=True)
        return exc.exit_code
    except (typer.Abort, KeyboardInterrupt):
        typer.echo('repro: interrupted', err=True)
        return 130
    except OSError as exc:  # disk full, permissions: one line, no traceback
        where = f': {exc.filename}' if exc.filename else ''
        typer.echo(f'repro: error: {exc.strerror or exc}{where}', err=True)
        return 1
    except SystemExit as exc:
        return exc.code
    except Exception as exc:
        # Usage errors from click (vendored inside newer typer releases).
        if hasattr(exc, 'format_message') and isinstance(getattr(exc, 'exit_code', None), int):
            ctx = getattr(exc, 'ctx', None)
            where = f'{ctx.command_path} --help' if ctx is not None else 'repro --help'
            message = ' '.join(exc.format_message().split())
            typer.echo(f'repro: error: {message} (see {where})', err=True)
            return exc.exit_code
        raise
    # A command that raised typer.Exit(code) returns that code here.
    return result if isinstance(result, int) else 0


if __name__ == '__main__':
    sys.exit(main())
