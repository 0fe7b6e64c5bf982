"""Signing keys: file modes, no overwrite, passphrases, and one-line errors."""
import os
import stat

import pytest

from repro.audit import keys
from repro.cli import main
from repro.errors import KeyFileError
from tests.helpers import make_keys


def test_generate_writes_a_0600_private_key_and_never_overwrites(tmp_path, capsys):
    assert main(['key', 'generate', '--out', str(tmp_path / 'k')]) == 0
    private, public = tmp_path / 'k' / keys.PRIVATE_NAME, tmp_path / 'k' / keys.PUBLIC_NAME
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert stat.S_IMODE(public.stat().st_mode) == 0o644
    assert private.read_text().startswith('-----BEGIN PRIVATE KEY-----')
    before = private.read_bytes()
    capsys.readouterr()
    assert main(['key', 'generate', '--out', str(tmp_path / 'k')]) == 2
    assert 'already exists; not overwriting' in capsys.readouterr().err
    assert private.read_bytes() == before


def test_sign_and_verify_round_trip(tmp_path):
    private, public = make_keys(tmp_path)
    signer, verifier = keys.load_private(private), keys.load_public(public)
    assert signer.keyid == verifier.keyid
    signature = signer.sign(b'data')
    assert verifier.verify(signature, b'data')
    assert not verifier.verify(signature, b'date')
    assert 'PRIVATE' not in repr(signer) and signer.keyid[:16] in repr(signer)


def test_passphrase_from_the_environment_or_the_prompt(tmp_path, monkeypatch):
    private, _ = make_keys(tmp_path, passphrase='correct horse')
    assert b'ENCRYPTED PRIVATE KEY' in open(private, 'rb').read()
    monkeypatch.delenv(keys.PASSPHRASE_ENV, raising=False)
    with pytest.raises(KeyFileError, match='protected by a passphrase'):
        keys.load_private(private)
    assert keys.load_private(private, ask=lambda: 'correct horse').keyid
    monkeypatch.setenv(keys.PASSPHRASE_ENV, 'wrong')
    with pytest.raises(KeyFileError, match='wrong passphrase'):
        keys.load_private(private)
    monkeypatch.setenv(keys.PASSPHRASE_ENV, 'correct horse')
    assert keys.load_private(private, ask=lambda: pytest.fail('asked')).keyid
    monkeypatch.setenv(keys.PASSPHRASE_ENV, '')  # empty is none: the prompt is asked
    assert keys.load_private(private, ask=lambda: 'correct horse').keyid


def test_a_passphrase_for_a_plain_key_is_ignored(tmp_path, monkeypatch):
    private, _ = make_keys(tmp_path)
    monkeypatch.setenv(keys.PASSPHRASE_ENV, 'unneeded')
    assert keys.load_private(private).keyid


def test_encrypted_generate_through_the_cli(tmp_path, monkeypatch):
    monkeypatch.setenv(keys.PASSPHRASE_ENV, 'pw')
    assert main(['key', 'generate', '--out', str(tmp_path), '--encrypt']) == 0
    monkeypatch.delenv(keys.PASSPHRASE_ENV)
    with pytest.raises(KeyFileError, match='protected'):
        keys.load_private(str(tmp_path / keys.PRIVATE_NAME))


def test_bad_key_files_are_one_line_errors(tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    private, public = make_keys(tmp_path)
    with pytest.raises(KeyFileError, match='cannot read the signing key'):
        keys.load_private(str(tmp_path / 'missing'))
    with pytest.raises(KeyFileError, match='not a PEM public key'):
        keys.load_public(private)
    os.chmod(public, 0o600)
    with pytest.raises(KeyFileError, match='not a PEM private key'):
        keys.load_private(public)
    os.chmod(private, 0o644)
    with pytest.raises(KeyFileError, match='can be read by others'):
        keys.load_private(private)
    other = ec.generate_private_key(ec.SECP256R1())
    (tmp_path / 'ec.pub').write_bytes(other.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    with pytest.raises(KeyFileError, match='not an ed25519 public key'):
        keys.load_public(str(tmp_path / 'ec.pub'))
    os.symlink(public, tmp_path / 'link.pub')
    with pytest.raises(KeyFileError, match='cannot read the public key'):
        keys.load_public(str(tmp_path / 'link.pub'))
