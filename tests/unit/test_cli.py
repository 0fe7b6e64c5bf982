import os
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


def test_commands_parse_without_pydantic(tmp_path):
    """typer would coerce every value through pydantic (0.1 s a command):
    repro's plain parameters never import it, and bad values keep typer's words."""
    code = ('import sys; from repro.cli import main\n'
            'codes = [main(["ls"]), main(["run", "x.py", "--seed", "-3"]),\n'
            '         main(["run", "x.py", "--seed", "abc"]), main(["replay", "--rtol", "x"]),\n'
            '         main(["sweep", "x.py", "--max-parallel", "-1"])]\n'
            'print(codes, "pydantic" in sys.modules)\n')
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                            cwd=tmp_path, env={**os.environ, 'REPRO_HOME': str(tmp_path)})
    assert result.stdout.strip().splitlines()[-1] == '[0, 2, 2, 2, 2] False', result.stderr
    assert result.stderr.replace('(see -c ', '(see repro ').splitlines() == [
        "repro: error: Invalid value for '--seed': Input should be greater than or equal "
        "to 0 (see repro run --help)",
        "repro: error: Invalid value for '--seed': Input should be a valid integer, unable "
        "to parse string as an integer (see repro run --help)",
        "repro: error: Invalid value for '--rtol': Input should be a valid number, unable "
        "to parse string as a number (see repro replay --help)",
        "repro: error: Invalid value for '--max-parallel': Input should be greater than or "
        "equal to 0 (see repro sweep --help)"]


def test_the_command_exits_without_teardown_but_with_all_its_output(tmp_path):
    """`repro` skips the interpreter's teardown (os._exit): its output must
    still be complete, its exit code kept, and its exit handlers run."""
    code = ('import atexit, sys\n'
            'flag = sys.argv[1]\n'
            'atexit.register(lambda: open(flag, "w").write("ran"))\n'
            'sys.argv[1:] = ["version"]\n'
            'from repro.cli import entry\n'
            'print("x" * 100000, end="")\n'
            'entry()\n')
    flag = tmp_path / 'flag'
    result = subprocess.run([sys.executable, '-c', code, str(flag)], capture_output=True,
                            text=True)
    assert result.returncode == 0 and flag.read_text() == 'ran'
    assert result.stdout == 'x' * 100000 + repro.__version__ + '\n'
    bad = subprocess.run([sys.executable, '-m', 'repro', 'run', 'x.py', '--seed', '-1'],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.startswith("repro: error: Invalid value")
