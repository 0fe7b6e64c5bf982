"""DSSE envelopes, pure: the spec's encoding, key ids, and untrusted parsing."""
import base64
import json

import pytest

from repro.audit import dsse
from repro.errors import SignatureError


def test_pae_is_the_specs_test_vector_with_byte_lengths():
    assert dsse.pae('http://example.com/HelloWorld', b'hello world') == \
        b'DSSEv1 29 http://example.com/HelloWorld 11 hello world'
    assert dsse.pae('t', 'é'.encode()) == b'DSSEv1 1 t 2 \xc3\xa9'  # bytes, not characters


def test_keyid_is_securesystemslibs_default():
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
    from securesystemslib.signer import SSlibKey
    public = Ed25519PrivateKey.generate().public_key()
    raw = public.public_bytes(Encoding.Raw, PublicFormat.Raw)
    assert SSlibKey.from_crypto(public).keyid == dsse.keyid(raw)


def test_envelope_round_trip():
    text = dsse.envelope(b'{"a": 1}\n', 'k1', b'\x01' * 64)
    env = dsse.parse(text)
    assert env == dsse.Envelope(dsse.PAYLOAD_TYPE, b'{"a": 1}\n', (('k1', b'\x01' * 64),))
    assert json.loads(text)['payload'] == base64.standard_b64encode(b'{"a": 1}\n').decode()


def test_url_safe_base64_and_unknown_fields_are_accepted():
    data = json.loads(dsse.envelope(b'\xfb\xff', 'k', b'\xfb\xef'))
    data['payload'] = base64.urlsafe_b64encode(b'\xfb\xff').decode()
    data['extra'] = 1
    assert dsse.parse(json.dumps(data)).payload == b'\xfb\xff'


@pytest.mark.parametrize('text, message', [
    ('not json', 'not JSON'),
    ('[]', 'not a JSON object'),
    ('{"payloadType": "application/vnd.in-toto+json", "signatures": []}', 'no payload'),
    ('{"payload": "", "payloadType": "text/plain", "signatures": []}', 'payloadType'),
    ('{"payload": "", "payloadType": "application/vnd.in-toto+json", "signatures": []}',
     'no signatures'),
    ('{"payload": "", "payloadType": "application/vnd.in-toto+json", "signatures": [{}]}',
     'has no sig'),
    ('{"payload": "!!", "payloadType": "application/vnd.in-toto+json", '
     '"signatures": [{"sig": ""}]}', 'payload is not valid base64'),
    ('{"payload": "", "payloadType": "application/vnd.in-toto+json", '
     '"signatures": [{"sig": 5}]}', 'not a base64 string'),
])
def test_malformed_envelopes_are_one_line_signature_errors(text, message):
    with pytest.raises(SignatureError, match=message):
        dsse.parse(text)


def test_every_signature_is_tried_and_the_keyid_is_only_a_hint():
    message = dsse.pae(dsse.PAYLOAD_TYPE, b'p')
    env = dsse.Envelope(dsse.PAYLOAD_TYPE, b'p', (('mine', b'bad'), ('other', b'good')))
    assert dsse.verified_payload(env, lambda sig, data: sig == b'good' and data == message) \
        == b'p'
    with pytest.raises(SignatureError, match='not signed by the given key'):
        dsse.verified_payload(env, lambda sig, data: False)
