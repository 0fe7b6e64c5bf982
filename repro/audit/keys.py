"""Signing keys: ed25519 in PEM files, through ``cryptography`` (its only importer).

The private key is written once, mode 0600, and never overwritten; it may be
protected with a passphrase (``REPRO_KEY_PASSPHRASE`` or a prompt). Keys are
identified by securesystemslib's default key id (:func:`repro.audit.dsse.keyid`),
so independent DSSE verifiers find the signature without configuration.
Everything the user can get wrong becomes a one-line :class:`KeyFileError`.
"""
import os
import stat

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (Ed25519PrivateKey,
                                                               Ed25519PublicKey)

from repro.audit.dsse import keyid
from repro.core.safefs import display
from repro.errors import KeyFileError

PRIVATE_NAME = 'repro-signing.key'
PUBLIC_NAME = 'repro-signing.pub'
PASSPHRASE_ENV = 'REPRO_KEY_PASSPHRASE'
MAX_KEY_FILE = 64 << 10  # a PEM key is a few hundred bytes


class SigningKey:
    """A loaded private key. Its repr names the key id, never the key."""

    def __init__(self, private):
        self._private = private
        self.keyid = keyid(_raw(private.public_key()))

    def sign(self, data):
        return self._private.sign(data)

    def __repr__(self):
        return f'<ed25519 signing key {self.keyid[:16]}>'


class PublicKey:
    """A loaded public key: verifies raw ed25519 signatures."""

    def __init__(self, public):
        self._public = public
        self.keyid = keyid(_raw(public))

    def verify(self, signature, data):
        """Whether ``signature`` is this key's over ``data``."""
        try:
            self._public.verify(signature, data)
        except InvalidSignature:
            return False
        return True

    def __repr__(self):
        return f'<ed25519 public key {self.keyid[:16]}>'


def _raw(public):
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def passphrase_from_env():
    """``REPRO_KEY_PASSPHRASE`` as bytes; unset or empty means none."""
    value = os.environ.get(PASSPHRASE_ENV)
    return value.encode('utf-8') if value else None


def generate(out_dir, passphrase=None):
    """Write a new key pair into ``out_dir``; (private path, public path).

    Both names must be free: a key is never overwritten, since runs already
    signed with it could no longer be checked against a lost public key.
    """
    private_path = os.path.join(out_dir, PRIVATE_NAME)
    public_path = os.path.join(out_dir, PUBLIC_NAME)
    for path in (private_path, public_path):
        if os.path.lexists(path):
            raise KeyFileError(f'{display(path)} already exists; not overwriting a key',
                               'give another --out directory')
    key = Ed25519PrivateKey.generate()
    encryption = (serialization.BestAvailableEncryption(passphrase) if passphrase
                  else serialization.NoEncryption())
    try:
        os.makedirs(out_dir, mode=0o700, exist_ok=True)
        _write_new(private_path, key.private_bytes(serialization.Encoding.PEM,
                                                   serialization.PrivateFormat.PKCS8,
                                                   encryption), 0o600)
        _write_new(public_path, key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo), 0o644)
    except OSError as exc:
        raise KeyFileError(f'cannot write the key pair into {display(out_dir)}: '
                           f'{exc.strerror}') from None
    return private_path, public_path


def _write_new(path, data, mode):
    """Create ``path`` with ``mode`` from the start (no window where it is wider)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    with os.fdopen(fd, 'wb') as f:
        f.write(data)
    os.chmod(path, mode)  # the umask may have narrowed the public key's mode


def _read(path, what):
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as exc:
        raise KeyFileError(f'cannot read the {what} {display(path)}: {exc.strerror}') from None
    with os.fdopen(fd, 'rb') as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_KEY_FILE:
            raise KeyFileError(f'the {what} {display(path)} is not a PEM key file')
        return f.read(MAX_KEY_FILE), st


def load_private(path, ask=None):
    """The :class:`SigningKey` in ``path``.

    An encrypted key takes ``REPRO_KEY_PASSPHRASE``, else ``ask()`` (a
    prompt) if given. A key others can read is refused, as ssh does.
    """
    data, st = _read(path, 'signing key')
    if b'PRIVATE KEY-----' not in data:
        raise KeyFileError(f'{display(path)} is not a PEM private key')
    if st.st_mode & 0o077:
        raise KeyFileError(f'the signing key {display(path)} can be read by others '
                           f'(mode {stat.S_IMODE(st.st_mode):04o})', f'chmod 600 {display(path)}')
    passphrase = passphrase_from_env()
    if passphrase is None and b'ENCRYPTED' in data and ask is not None:
        passphrase = (ask() or '').encode('utf-8') or None
    try:
        private = serialization.load_pem_private_key(data, password=passphrase)
    except TypeError:  # encrypted without a passphrase, or the other way round
        if passphrase is None:
            raise KeyFileError(f'the signing key {display(path)} is protected by a passphrase',
                               f'set {PASSPHRASE_ENV} or run from a terminal') from None
        private = serialization.load_pem_private_key(data, password=None)
    except ValueError as exc:
        wrong = passphrase is not None and 'password' in str(exc).lower()
        raise KeyFileError(f'wrong passphrase for the signing key {display(path)}' if wrong
                           else f'{display(path)} is not a PEM private key') from None
    if not isinstance(private, Ed25519PrivateKey):
        raise KeyFileError(f'{display(path)} is not an ed25519 key',
                           'make one with `repro key generate`')
    return SigningKey(private)


def load_public(path):
    """The :class:`PublicKey` in PEM file ``path``."""
    data, _ = _read(path, 'public key')
    try:
        public = serialization.load_pem_public_key(data)
    except ValueError:
        raise KeyFileError(f'{display(path)} is not a PEM public key',
                           'give the .pub file `repro key generate` wrote') from None
    if not isinstance(public, Ed25519PublicKey):
        raise KeyFileError(f'{display(path)} is not an ed25519 public key')
    return PublicKey(public)
