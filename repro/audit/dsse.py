"""DSSE envelopes (secure-systems-lab/dsse v1), pure: no keys, no files.

A signature covers ``PAE(payloadType, payload)``, never the JSON around it,
so the envelope's own formatting does not matter; the payload is the exact
bytes of the statement ``repro export --format in-toto`` prints. Envelopes
come from the run store, so :func:`parse` treats them as untrusted: any
shape problem is a one-line :class:`SignatureError`.
"""
import base64
import binascii
import dataclasses
import hashlib
import json

from repro.core.safefs import display
from repro.errors import SignatureError

PAYLOAD_TYPE = 'application/vnd.in-toto+json'
MAX_SIGNATURES = 16


def pae(payload_type, payload):
    """DSSE's pre-authentication encoding; lengths are byte counts."""
    kind = payload_type.encode('utf-8')
    return b'DSSEv1 %d %b %d %b' % (len(kind), kind, len(payload), payload)


def keyid(raw_public):
    """securesystemslib's default key id of a raw ed25519 public key.

    securesystemslib skips a signature whose keyid is not its key's, so using
    its id lets an auditor verify with ``SSlibKey.from_crypto`` alone.
    """
    key = {'keytype': 'ed25519', 'scheme': 'ed25519', 'keyval': {'public': raw_public.hex()}}
    canonical = json.dumps(key, sort_keys=True, separators=(',', ':'))
    return hashlib.sha256(canonical.encode('utf-8')).hexdigest()


@dataclasses.dataclass(frozen=True)
class Envelope:
    payload_type: str
    payload: bytes
    signatures: tuple  # ((keyid, signature bytes), ...)


def envelope(payload, key_id, signature, payload_type=PAYLOAD_TYPE):
    """The JSON text of a one-signature envelope (standard, padded base64)."""
    data = {'payload': base64.standard_b64encode(payload).decode('ascii'),
            'payloadType': payload_type,
            'signatures': [{'keyid': key_id,
                            'sig': base64.standard_b64encode(signature).decode('ascii')}]}
    return json.dumps(data, indent=2, sort_keys=True) + '\n'


def _b64(value, where):
    """Standard or URL-safe base64, both of which DSSE verifiers must accept."""
    if not isinstance(value, str):
        raise SignatureError(f'attestation: {where} is not a base64 string')
    for altchars in (None, b'-_'):
        try:
            return base64.b64decode(value, altchars=altchars, validate=True)
        except (binascii.Error, ValueError):
            continue
    raise SignatureError(f'attestation: {where} is not valid base64')


def parse(text):
    """The :class:`Envelope` in ``text``; unknown fields are ignored, as DSSE says."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise SignatureError(f'attestation is not JSON ({getattr(exc, "msg", exc)})') from None
    if not isinstance(data, dict):
        raise SignatureError('attestation is not a DSSE envelope (not a JSON object)')
    missing = [k for k in ('payload', 'payloadType', 'signatures') if k not in data]
    if missing:
        raise SignatureError(f'attestation is not a DSSE envelope (no {missing[0]})')
    if data['payloadType'] != PAYLOAD_TYPE:
        shown = display(str(data['payloadType']))[:60]
        raise SignatureError(f'attestation payloadType is {shown!r}, not {PAYLOAD_TYPE}')
    if not isinstance(data['signatures'], list) or not data['signatures']:
        raise SignatureError('attestation has no signatures')
    if len(data['signatures']) > MAX_SIGNATURES:  # each is tried: bound the work
        raise SignatureError(f'attestation has {len(data["signatures"])} signatures '
                             f'(at most {MAX_SIGNATURES} are checked)')
    signatures = []
    for i, entry in enumerate(data['signatures']):
        if not isinstance(entry, dict) or 'sig' not in entry:
            raise SignatureError(f'attestation: signatures[{i}] has no sig')
        key_id = entry.get('keyid') or ''
        signatures.append((key_id if isinstance(key_id, str) else '',
                           _b64(entry['sig'], f'signatures[{i}].sig')))
    return Envelope(PAYLOAD_TYPE, _b64(data['payload'], 'payload'), tuple(signatures))


def verified_payload(env, verify):
    """The payload if some signature passes ``verify(signature, data)``.

    The keyid is only a hint (DSSE: never a security decision), so every
    signature is tried. The payload returned is the one that was verified,
    never re-read from the envelope's text.
    """
    message = pae(env.payload_type, env.payload)
    if not any(verify(signature, message) for _key_id, signature in env.signatures):
        raise SignatureError('the attestation is not signed by the given key '
                             '(or was altered after signing)')
    return env.payload
