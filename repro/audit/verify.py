"""``repro verify``: does a run still hold exactly what its manifest says?

With a public key, :func:`check_run` first checks the signature and the
signed statement (:mod:`repro.audit.attestation`) and, with a policy, ends
with its rules; each step has its own error and exit code.

The manifest is checked first (:mod:`repro.store.manifest_loader`: a safe read,
the schema, paths that stay inside the run, its canonical form and its
integrity digest). Then every entry of the run directory is walked again
without following links and compared with the recorded artifacts:
modified, missing and unexpected files, and links, FIFOs or devices, which
are reported by type and never read. Host-written facts are checked too:
``meta/source.diff`` must be the diff whose hash the manifest records.
"""
import hashlib

from repro.store import manifest_loader

from repro.core import safefs
from repro.errors import ReproError, VerificationError
from repro.store.manifest import artifacts


def manifest_problems(text):
    """Problems with a manifest file's text (pure): ([], manifest) when intact."""
    return manifest_loader.parse(text)[::-1]


def _key(entry):
    return entry.get('path'), entry.get('path_hex')


def _shown(entry):
    return safefs.display(entry.get('path'))


def _fingerprint(entry):
    return tuple(entry.get(k) for k in ('type', 'target', 'size', 'sha256'))


def artifact_problems(recorded, actual):
    """Modified, missing and unexpected entries (pure): a list of lines."""
    want = {_key(a): a for a in recorded}
    have = {_key(a): a for a in actual}
    problems = []
    for key in sorted(want.keys() | have.keys(), key=lambda k: (k[0], k[1] or '')):
        if key not in have:
            problems.append(f'missing: {_shown(want[key])}')
        elif key not in want:
            problems.append(f'unexpected: {_shown(have[key])}{_kind(have[key])}')
        elif _fingerprint(want[key]) != _fingerprint(have[key]):
            problems.append(f'modified: {_shown(have[key])}{_kind(have[key])}')
    return problems


def _kind(entry):
    if entry.get('type') == 'link':
        return f' (a link to {safefs.display(entry.get("target"))}, not followed)'
    return f' (a {entry["type"]}, not read)' if entry.get('type') else ''


def special_entries(recorded):
    """Lines naming the recorded entries that are not regular files (pure)."""
    return [f'not a regular file: {_shown(a)}{_kind(a)}' for a in recorded if a.get('type')]


def host_fact_problems(store, run_id, manifest):
    """``meta/source.diff`` is written by the host before the container
    starts; its hash is in the manifest's ``git`` section."""
    try:
        diff = safefs.read_bytes(store.run_dir(run_id), 'meta/source.diff', 1 << 30)
    except ReproError as exc:
        return [f'meta/source.diff: {exc.message}']
    if hashlib.sha256(diff).hexdigest() != manifest['git']['diff_sha256']:
        return ['modified: meta/source.diff (not the diff recorded in git.diff_sha256)']
    return []


def verify_run(store, run_id, notes=None):
    """(problems, number of artifacts checked) for one run.

    Entries that are not regular files are appended to ``notes`` (if given)
    even when they match the record: a user should know they are there.
    """
    manifest, problems = manifest_loader.read(store, run_id)
    if manifest is None:
        return problems, 0
    recorded = manifest['artifacts']
    actual = artifacts(store.run_dir(run_id))
    problems += artifact_problems(recorded, actual)
    problems += host_fact_problems(store, run_id, manifest)
    problems += [f'unsafe mode: {safefs.display(e.rel)} is {safefs.suspicious_mode(e)}'
                 for e in safefs.walk(store.run_dir(run_id), dirs=True)
                 if safefs.suspicious_mode(e)]
    if notes is not None:
        notes.extend(special_entries(recorded))
    return problems, len(recorded)


def check_run(store, run_id, report, public_key=None, policy=None, now=None):
    """``repro verify RUN``: signature and signed statement (with a key),
    every artifact, then the policy ((name, rules), with a key); lines go to
    ``report`` as each step ends, and the first failing step raises."""
    from repro.audit import attestation
    problems, statement = [], None
    if public_key is None:
        line, problems = attestation.signature_state(store, run_id)
        report(line)
    else:
        statement = attestation.check_signed(store, run_id, public_key, report)
    notes = []
    found, checked = verify_run(store, run_id, notes=notes)
    problems = found + problems
    for line in problems + notes:  # links and FIFOs are named even when recorded
        report(line)
    if problems:
        raise VerificationError(f'run {run_id} failed verification: {len(problems)} problem(s)')
    report(f'run {run_id} verified: manifest intact, {checked} artifacts match')
    if policy is not None and statement is not None:
        attestation.check_policy(store, run_id, public_key, policy, statement, now, report)
