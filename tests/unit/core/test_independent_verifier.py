"""An independent DSSE implementation (securesystemslib) agrees with repro:
it verifies repro's envelopes with the public key alone, and repro rejects an
envelope it signs with another key."""
import base64
import json
import os

import pytest
from cryptography.hazmat.primitives.serialization import load_pem_private_key, load_pem_public_key
from securesystemslib.dsse import Envelope
from securesystemslib.exceptions import VerificationError
from securesystemslib.signer import CryptoSigner, SSlibKey

from repro.cli import main
from repro.store.manifest import ATTESTATION_NAME
from tests.helpers import signed_run


@pytest.fixture
def signed(tmp_path, monkeypatch):
    store, run_id, private, public = signed_run(tmp_path / 'store', tmp_path / 'keys')
    monkeypatch.setenv('REPRO_HOME', store.root)
    path = os.path.join(store.run_dir(run_id), ATTESTATION_NAME)
    return store, run_id, path, private, public


def sslib_key(public):
    with open(public, 'rb') as f:
        return SSlibKey.from_crypto(load_pem_public_key(f.read()))


def read(path):
    with open(path) as f:
        return json.load(f)  # fresh each time: Envelope.from_dict empties its input


def test_securesystemslib_verifies_repros_envelope(signed, capsys):
    store, run_id, path, _, public = signed
    envelope = Envelope.from_dict(read(path))
    key = sslib_key(public)
    assert envelope.verify([key], 1) == {key.keyid: key}
    assert envelope.payload_type == 'application/vnd.in-toto+json'
    statement = json.loads(envelope.payload)  # the verified payload, not re-read
    assert statement['_type'] == 'https://in-toto.io/Statement/v1'
    assert statement['predicateType'] == 'https://slsa.dev/provenance/v1'
    assert main(['export', run_id, '--format', 'in-toto']) == 0
    assert envelope.payload.decode() == capsys.readouterr().out


def test_securesystemslib_rejects_what_repro_rejects(signed):
    _, _, path, _, public = signed
    data = read(path)
    statement = json.loads(base64.b64decode(data['payload']))
    statement['subject'][0]['digest']['sha256'] = '0' * 64
    data['payload'] = base64.b64encode(json.dumps(statement).encode()).decode()
    with pytest.raises(VerificationError):
        Envelope.from_dict(data).verify([sslib_key(public)], 1)


def test_repro_rejects_an_envelope_securesystemslib_signs_with_another_key(signed, capsys):
    _, run_id, path, _, public = signed
    ours = Envelope.from_dict(read(path))
    forged = Envelope(ours.payload, ours.payload_type, {})
    forged.sign(CryptoSigner.generate_ed25519())
    with open(path, 'w') as f:
        json.dump(forged.to_dict(), f)
    assert main(['verify', run_id, '--key', public]) == 6
    assert 'not signed by the given key' in capsys.readouterr().err


def test_repro_accepts_the_same_envelope_signed_by_securesystemslib_with_its_key(signed):
    _, run_id, path, private, public = signed
    ours = Envelope.from_dict(read(path))
    with open(private, 'rb') as f:
        signer = CryptoSigner(load_pem_private_key(f.read(), None))
    again = Envelope(ours.payload, ours.payload_type, {})
    again.sign(signer)
    # ed25519 is deterministic: the independent signature is byte-identical.
    assert again.to_dict()['signatures'] == read(path)['signatures']
    with open(path, 'w') as f:
        json.dump(again.to_dict(), f)
    assert main(['verify', run_id, '--key', public]) == 0
