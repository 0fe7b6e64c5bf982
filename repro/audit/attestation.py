"""Signing a run and checking its signature: ``attestation.dsse.json``.

``repro sign`` puts a DSSE envelope beside the manifest whose payload is the
run's provenance statement (:func:`repro.audit.provenance.statement_text`).
``repro verify --key`` checks, in order: the signature over the envelope
(:class:`SignatureError`), that the signed statement is the one the manifest
gives now, field by field (:func:`statement_problems`), then every
artifact as an unsigned verify does. The attestation lives in the untrusted
run store, so it is read through :mod:`repro.core.safefs` with a size limit.
"""
import json

from repro.audit import dsse
from repro.audit.provenance import differences, statement_text
from repro.core import safefs
from repro.errors import (PolicyError, ReproError, SignatureError, StatementMismatchError,
                          UntrustedFileError, VerificationError)
from repro.store import manifest_loader
from repro.store.manifest import ATTESTATION_NAME

MAX_ENVELOPE = 2 * safefs.MAX_JSON  # base64 of a statement no larger than a manifest


def sign_run(store, run_id, key):
    """Sign a finished run that passes verification; the attestation's path."""
    from repro.audit.verify import verify_run
    from repro.engines.liveness import status_of
    manifest = manifest_loader.load(store, run_id)
    if status_of(manifest) in ('running', 'stale'):
        raise VerificationError(f'run {run_id} has not finished; not signing it')
    problems, _ = verify_run(store, run_id)
    if problems:  # a signature over edited files would vouch for them
        raise VerificationError(f'run {run_id} failed verification ({problems[0]}); '
                                'not signing it', f'see `repro verify {run_id}`')
    payload = statement_text(manifest).encode('utf-8')
    signature = key.sign(dsse.pae(dsse.PAYLOAD_TYPE, payload))
    store.write_attestation(run_id, dsse.envelope(payload, key.keyid, signature))
    return f'{store.run_dir(run_id)}/{ATTESTATION_NAME}'


def read_envelope(store, run_id):
    """The attestation's text, or None when the run is unsigned."""
    try:
        return safefs.read_text(store.run_dir(run_id), ATTESTATION_NAME, MAX_ENVELOPE)
    except UntrustedFileError as exc:
        if exc.message == f'{ATTESTATION_NAME} is missing':
            return None
        raise


def signature_state(store, run_id):
    """(line for an unsigned verify, problems): "unsigned" or "signed, key
    not given"; an attestation that is no envelope is a problem."""
    try:
        text = read_envelope(store, run_id)
        if text is None:
            return 'signature: unsigned', []
        dsse.parse(text)
    except ReproError as exc:
        return 'signature: unreadable', [exc.message if ATTESTATION_NAME in exc.message
                                         else f'{ATTESTATION_NAME}: {exc.message}']
    return 'signature: signed, key not given (check it with --key PUB)', []


def verified_statement(store, run_id, public_key):
    """The signed statement of ``run_id`` if ``public_key`` signed it."""
    try:
        text = read_envelope(store, run_id)
    except UntrustedFileError as exc:
        raise SignatureError(f'run {run_id}: {exc.message}') from None
    if text is None:
        raise SignatureError(f'run {run_id} is not signed (no {ATTESTATION_NAME})',
                             f'sign it with `repro sign {run_id}`')
    try:
        payload = dsse.verified_payload(dsse.parse(text), public_key.verify)
        statement = json.loads(payload)
    except SignatureError as exc:
        raise SignatureError(f'run {run_id}: {exc.message}') from None
    except ValueError:
        raise SignatureError(f'run {run_id}: the signed payload is not JSON') from None
    if not isinstance(statement, dict):
        raise SignatureError(f'run {run_id}: the signed payload is not a statement')
    return statement


def statement_problems(store, run_id, statement):
    """Every field where the signed statement and the manifest's own differ
    ([] when they are the same); a manifest that cannot be read is one."""
    manifest, problems = manifest_loader.read(store, run_id)
    if manifest is None:
        return [f'the manifest cannot be compared with the signed statement ({problems[0]})']
    return differences(statement, manifest)


def check_signed(store, run_id, public_key, report):
    """Steps 1 and 2 of ``verify --key``: the signature, then the statement
    against the manifest; the signed statement, or the step's error."""
    statement = verified_statement(store, run_id, public_key)
    report(f'signature: good, ed25519 key {public_key.keyid[:16]}')
    mismatches = statement_problems(store, run_id, statement)
    for line in mismatches:
        report(f'forged: {line}')
    if mismatches:
        raise StatementMismatchError(f'run {run_id}: the manifest does not match its signed '
                                     f'statement ({len(mismatches)} field(s)): {mismatches[0]}')
    report(f'statement: the manifest gives the signed statement, field by field '
           f'({len(statement.get("subject") or [])} subjects)')
    return statement


def check_policy(store, run_id, public_key, policy, statement, now, report):
    """The last step: every rule of ``policy`` ((name, rules)), pass or FAIL."""
    from repro.audit.policy import evaluate
    name, rules = policy
    results = evaluate(rules, statement, now,
                       replays=lambda: signed_replays(store, run_id, public_key))
    report(f'policy {name}:')
    for result in results:
        report(f'  {result}')
    failed = [r.rule for r in results if not r.passed]
    if failed:
        raise PolicyError(f'run {run_id} breaks the policy {name}: {len(failed)} of '
                          f'{len(results)} rule(s) failed ({", ".join(failed)})')
    report(f'run {run_id} meets the policy: {len(results)} rule(s) passed')


def signed_replays(store, run_id, public_key):
    """(replay id, signed statement) for each replay of ``run_id`` that
    ``public_key`` signed; others (unsigned, forged, broken) do not count."""
    found = []
    for other in store.run_ids():
        manifest, _ = manifest_loader.read(store, other)
        if manifest is None or manifest.get('replay_of') != run_id:
            continue
        try:
            found.append((other, verified_statement(store, other, public_key)))
        except SignatureError:
            continue
    return found
