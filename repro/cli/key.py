"""``repro key generate [--out DIR] [--encrypt]``, and loading the signing key."""
from typing import Optional

import typer

app = typer.Typer(help='Make and manage signing keys.', no_args_is_help=True,
                  add_completion=False, rich_markup_mode=None)


def _default_dir():
    import os
    config = os.environ.get('XDG_CONFIG_HOME') or os.path.join(os.path.expanduser('~'),
                                                                '.config')
    return os.path.join(config, 'repro', 'keys')


@app.command()
def generate(out: Optional[str] = typer.Option(
                 None, '--out', help='directory for the key pair (default ~/.config/repro/keys)'),
             encrypt: bool = typer.Option(
                 False, '--encrypt', help='protect the private key with a passphrase '
                                          '(REPRO_KEY_PASSPHRASE, else asked)')):
    """Make an ed25519 key pair for `repro sign` (the private key is mode 0600)."""
    from repro.audit.keys import generate as generate_pair, passphrase_from_env
    from repro.errors import KeyFileError
    passphrase = None
    if encrypt:
        passphrase = passphrase_from_env() or typer.prompt(
            'passphrase', hide_input=True, confirmation_prompt=True).encode('utf-8')
        if not passphrase:
            raise KeyFileError('an empty passphrase protects nothing', 'leave out --encrypt')
    private, public = generate_pair(out or _default_dir(), passphrase)
    typer.echo(f'private key: {private}  (keep it secret; REPRO_SIGNING_KEY names it)')
    typer.echo(f'public key:  {public}  (give it to auditors: repro verify --key)')


def signing_key(explicit=None, project_root=None):
    """The signing key to sign with, loaded: ``explicit``, REPRO_SIGNING_KEY or
    ``[tool.repro] signing_key``; a protected key's passphrase is asked for
    on a terminal when REPRO_KEY_PASSPHRASE is unset."""
    import sys

    from repro.audit.keys import load_private
    from repro.errors import KeyFileError
    from repro.record.config import signing_key as configured
    path = explicit or configured(project_root)
    if path is None:
        raise KeyFileError('no signing key: set REPRO_SIGNING_KEY or [tool.repro] signing_key',
                           'make one with `repro key generate`')
    ask = None
    if sys.stdin.isatty():
        def ask():
            return typer.prompt(f'passphrase for {path}', hide_input=True, default='',
                                show_default=False)
    return load_private(path, ask)
