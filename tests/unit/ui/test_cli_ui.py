"""`repro ui` as a user starts it: the URL, the warning and token off loopback,
and one-line errors for a port in use, a bad option or a missing extra."""
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from repro.cli import main
from tests.helpers import make_run


def start(home, *args):
    """`repro ui ARGS` in the background: (process, the URL it printed)."""
    proc = subprocess.Popen([sys.executable, '-m', 'repro', 'ui', *args], text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=dict(os.environ, REPRO_HOME=str(home)))
    line = proc.stdout.readline()
    if 'read-only at ' not in line:
        proc.kill()
        raise AssertionError(line + proc.stderr.read())
    return proc, line.rsplit(' at ', 1)[1].strip()


def stop(proc):
    """Ctrl-C, as a user stops it: (stdout, stderr) after it ends."""
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130 and err.endswith('repro: interrupted\n'), err
    return out, err


def fetch(url):
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_it_serves_the_store_on_loopback_and_prints_its_url(tmp_path):
    pytest.importorskip('uvicorn')
    _store, run_id = make_run(tmp_path / 'home')
    proc, url = start(tmp_path / 'home', '--port', '0')
    try:
        assert url.startswith('http://127.0.0.1:') and '?token=' not in url
        status, body = fetch(url + 'api/runs')
        assert status == 200 and [r['run_id'] for r in body['runs']] == [run_id]
    finally:
        _out, err = stop(proc)
    assert 'Traceback' not in err


def test_off_loopback_it_warns_and_requires_a_token(tmp_path):
    pytest.importorskip('uvicorn')
    make_run(tmp_path / 'home')
    proc, url = start(tmp_path / 'home', '--host', '0.0.0.0', '--port', '0')
    try:
        base, token = url.split('?token=')
        assert len(token) >= 32
        port = base.rstrip('/').rsplit(':', 1)[1]
        assert fetch(f'http://127.0.0.1:{port}/api/runs')[0] == 401
        assert fetch(f'http://127.0.0.1:{port}/api/runs?token={token}')[0] == 200
    finally:
        _out, err = stop(proc)
    assert err.startswith('warning: serving on 0.0.0.0, not loopback')


def test_a_port_in_use_is_one_line(tmp_path, capsys, monkeypatch):
    pytest.importorskip('uvicorn')
    monkeypatch.setenv('REPRO_HOME', str(tmp_path))
    busy = socket.create_server(('127.0.0.1', 0))
    try:
        code = main(['ui', '--port', str(busy.getsockname()[1])])
    finally:
        busy.close()
    err = capsys.readouterr().err
    assert code == 2 and err.count('\n') == 1
    assert 'Address already in use' in err and '--port 0 for a free one' in err


@pytest.mark.parametrize('args, words', [
    (['--port', '70000'], 'is not a port'),
    (['--host', '0.0.0.0', '--token', 'short'], 'at least 16'),
    (['--host', 'no-such-host.invalid'], 'cannot listen on no-such-host.invalid'),
])
def test_bad_options_are_one_line(tmp_path, capsys, monkeypatch, args, words):
    pytest.importorskip('uvicorn')
    monkeypatch.setenv('REPRO_HOME', str(tmp_path))
    code = main(['ui', *args])
    err = capsys.readouterr().err
    assert code == 2 and err.count('\n') == 1 and words in err, err


def test_without_the_extra_it_says_to_install_it(monkeypatch, capsys):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, 'find_spec',
                        lambda name, *a: None if name == 'starlette' else real(name, *a))
    assert main(['ui']) == 2
    assert capsys.readouterr().err == (
        'repro: error: repro ui needs starlette, which is not installed '
        '(install repro[ui]: pip install "repro[ui]")\n')


def test_the_cli_imports_no_web_stack_until_ui_runs():
    code = ('import sys; from repro.cli import full_app; full_app(); '
            'print(sorted(m for m in ("starlette", "uvicorn") if m in sys.modules))')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True).stdout
    assert out.strip() == '[]'
    help_text = subprocess.run([sys.executable, '-m', 'repro', '--help'], capture_output=True,
                               text=True).stdout
    assert ' ui ' in help_text


def test_only_the_server_imports_the_web_stack():
    import ast
    from tests.conftest import ROOT
    found = []
    for path in sorted((ROOT / 'repro').rglob('*.py')):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ''] if isinstance(node, ast.ImportFrom) else []
            if any(n.split('.')[0] in ('starlette', 'uvicorn') for n in names):
                found.append(path.relative_to(ROOT / 'repro').as_posix())
    assert sorted(set(found)) == ['ui/server.py']
