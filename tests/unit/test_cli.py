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
        cli.app.registered_commands.pop()
    err = capsys.readouterr().err
    assert err == 'repro: error: bad value (try another)\n'
