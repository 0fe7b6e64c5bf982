import subprocess
import sys

import repro
from repro.cli import main


def test_version_command(capsys):
    assert main(['version']) == 0
    assert capsys.readouterr().out.strip() == repro.__version__


def test_unknown_command_is_a_usage_error_without_traceback():
    result = subprocess.run([sys.executable, '-m', 'repro', 'frobnicate'],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert 'No such command' in result.stderr
    assert 'Traceback' not in result.stderr


def test_repro_error_maps_to_one_line_and_exit_code(monkeypatch, capsys):
    from repro import cli
    from repro.errors import ConfigError

    @cli.app.command('explode')
    def explode():
        raise ConfigError('bad value', 'try another')

    try:
        assert main(['explode']) == ConfigError.exit_code
    finally:
        cli.app.registered_commands[:] = [c for c in cli.app.registered_commands
                                          if c.name != 'explode']
    err = capsys.readouterr().err
    assert err == 'repro: error: bad value (try another)\n'


def test_a_command_parses_alone_as_it_does_among_all(capsys):
    """`repro NAME …` registers only NAME: its help, and its usage errors,
    are what the full app gives (the first one parses `--help` through both)."""
    from typer.testing import CliRunner

    from repro import cli
    runner = CliRunner()
    for name in cli.COMMANDS:
        for args in ([name, '--help'], [name, '--no-such-option']):
            full = runner.invoke(cli.full_app(), args, prog_name='repro')
            alone = runner.invoke(cli._app_for(args), args, prog_name='repro')
            assert cli._app_for(args) is not cli.app
            assert (alone.exit_code, alone.output) == (full.exit_code, full.output), args
    assert cli._app_for(['frobnicate']) is cli.app and cli._app_for([]) is cli.app
    help_text = runner.invoke(cli.full_app(), ['--help'], prog_name='repro').output
    listed = [line.split()[0] for line in help_text.split('Commands:')[1].splitlines()
              if line.startswith('  ')]
    assert listed[:2] == ['version', 'base'] and set(cli.COMMANDS) <= set(listed)


def test_the_command_collects_less_from_its_first_import():
    """`repro` raises the collector's first threshold before typer (or
    anything heavy) is imported, and keeps collecting cycles."""
    code = '''
import gc, sys
seen = []
class Watch:
    def find_spec(self, name, path=None, target=None):
        if name in ('typer', 'docker'):
            seen.append((name, gc.get_threshold()[0], gc.isenabled()))
sys.meta_path.insert(0, Watch())
sys.argv = ['repro', 'version']
from repro.__main__ import main, FIRST_THRESHOLD
try:
    main()
except SystemExit as exit:
    assert exit.code == 0, exit.code
print(seen, FIRST_THRESHOLD)
'''
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "[('typer', 50000, True)] 50000"
