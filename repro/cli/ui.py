"""``repro ui [--port 0] [--host 127.0.0.1] [--token T]``: the local run browser."""
from typing import Optional

import typer


def ui(port: int = typer.Option(0, '--port', help='port to listen on (0: a free one)'),
       host: str = typer.Option('127.0.0.1', '--host',
                                help='address to listen on; not loopback needs a token'),
       token: Optional[str] = typer.Option(
           None, '--token', help='required on every request (made up when --host is not '
                                 'loopback and none is given)')):
    """Browse the store's runs, curves, replays and sweeps in a web browser (read-only)."""
    from repro.record.project import open_store
    from repro.ui.launch import require_extra, start
    require_extra()
    start(open_store(), host, port, token, typer.echo)
