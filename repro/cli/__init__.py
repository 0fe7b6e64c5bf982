"""The ``repro`` command line: a thin Typer layer over the core library.

Each command parses, calls one core function and renders. Errors from the
core are :class:`repro.errors.ReproError`; :func:`main` turns them into a
one-line message and an exit code, here and nowhere else. Heavy imports
happen inside commands so ``repro --help`` stays fast.
"""
import sys

import typer

from repro import __version__
APP_SETTINGS = dict(
    name='repro',
    help='Reproducible ML and RL experiment runs, end to end.',
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: importing rich would double start-up time
)
app = typer.Typer(**APP_SETTINGS)


@app.callback()
def _root():
    """Reproducible ML and RL experiment runs, end to end."""


@app.command()
def version():
    """Print repro's version."""
    typer.echo(__version__)


# Command name -> (module under repro.cli, function; None: a sub-app), in
# the order of `repro --help`. Commands live one per module; their bodies
# import the core lazily.
COMMANDS = {
    'base': ('base', 'base'), 'build': ('build', 'build'), 'lock': ('lock', 'lock'),
    'run': ('run', 'run'), 'replay': ('replay', 'replay'), 'sweep': ('sweep', 'sweep'),
    'ls': ('runs', 'ls'), 'show': ('runs', 'show'), 'verify': ('verify', 'verify'),
    'sign': ('sign', 'sign'), 'key': ('key', None), 'export': ('export', 'export'),
    'diff': ('diff', 'diff'), 'plot': ('plot', 'plot'), 'du': ('housekeeping', 'du'),
    'rm': ('housekeeping', 'rm'), 'gc': ('housekeeping', 'gc'), 'ui': ('ui', 'ui'),
}


def _add(target, name):
    """Register command ``name`` on the Typer app ``target``."""
    import importlib
    module_name, function = COMMANDS[name]
    module = importlib.import_module(f'repro.cli.{module_name}')
    if function is None:
        target.add_typer(module.app, name=name)
    else:
        target.command(name)(getattr(module, function))


def full_app():
    """``app`` with every command (help, a mistyped command, tests)."""
    if not any(info.name == 'run' for info in app.registered_commands):
        for name in COMMANDS:
            _add(app, name)
    return app


def _app_for(argv):
    """The app to parse ``argv`` with: for a known command, one holding only
    that command, so a command imports and builds the parameters of one
    command, not of eighteen (about 8 ms). Anything else: :func:`full_app`."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in COMMANDS:
        return full_app()
    one = typer.Typer(**APP_SETTINGS)
    one.callback()(_root)
    _add(one, argv[0])
    return one


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


def main(argv=None):
    """Run the app; map errors to one line and an exit code."""
    from repro.errors import ReproError
    sigints = _watch_sigint()
    try:
        result = _app_for(argv)(args=argv, standalone_mode=False)
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

