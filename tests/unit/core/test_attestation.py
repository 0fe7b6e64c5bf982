"""`repro sign`, `verify --key` and `export --format dsse` on runs made without
Docker: each verify step fails on its own, with its own line and exit code."""
import base64
import json
import os

import pytest

from repro.cli import main
from repro.errors import PolicyError, SignatureError, StatementMismatchError, VerificationError
from repro.store.manifest import ATTESTATION_NAME
from tests.helpers import make_keys, make_run, signed_run


@pytest.fixture
def signed(tmp_path, monkeypatch):
    store, run_id, private, public = signed_run(tmp_path / 'store', tmp_path / 'keys')
    monkeypatch.setenv('REPRO_HOME', store.root)
    return store, run_id, private, public


def verify(capsys, *args):
    code = main(['verify', *map(str, args)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def edit_manifest(store, run_id, **changes):
    manifest = store.read_manifest(run_id)
    manifest.update(changes)
    store.write_manifest(run_id, manifest)  # re-sealed: the self-digest agrees


def test_sign_verify_and_export(signed, capsys):
    store, run_id, _, public = signed
    code, out, _ = verify(capsys, run_id, '--key', public)
    assert code == 0
    assert out.splitlines()[:2] == [
        f'signature: good, ed25519 key {out.split()[4]}',
        'statement: the manifest gives the signed statement, field by field (4 subjects)']
    assert out.splitlines()[-1] == f'run {run_id} verified: manifest intact, 4 artifacts match'
    assert main(['export', run_id, '--format', 'in-toto']) == 0
    statement_text = capsys.readouterr().out
    assert main(['export', run_id, '--format', 'dsse']) == 0
    envelope = json.loads(capsys.readouterr().out)
    # The payload is byte for byte what `export --format in-toto` prints.
    assert base64.b64decode(envelope['payload']).decode() == statement_text


def test_without_a_key_verify_says_whether_the_run_is_signed(
        signed, tmp_path, monkeypatch, capsys):
    store, run_id, _, _ = signed
    code, out, _ = verify(capsys, run_id)
    assert code == 0 and out.startswith('signature: signed, key not given')
    unsigned, other = make_run(tmp_path / 'other')
    monkeypatch.setenv('REPRO_HOME', unsigned.root)
    code, out, _ = verify(capsys, other)
    assert code == 0 and out.startswith('signature: unsigned\n')


def test_the_attestation_is_not_an_artifact(signed):
    store, run_id, _, _ = signed
    manifest = store.read_manifest(run_id)
    assert ATTESTATION_NAME not in [a['path'] for a in manifest['artifacts']]
    from repro.audit.verify import verify_run
    assert verify_run(store, run_id) == ([], 4)  # not "unexpected" either


def test_a_wrong_key_or_an_altered_envelope_is_a_signature_error(signed, tmp_path, capsys):
    store, run_id, _, _ = signed
    _, other_public = make_keys(tmp_path / 'other')
    code, _, err = verify(capsys, run_id, '--key', other_public)
    assert code == SignatureError.exit_code == 6
    assert err == (f'repro: error: run {run_id}: the attestation is not signed by the given '
                   'key (or was altered after signing)\n')
    path = os.path.join(store.run_dir(run_id), ATTESTATION_NAME)
    envelope = json.load(open(path))
    payload = json.loads(base64.b64decode(envelope['payload']))
    payload['predicate']['buildDefinition']['externalParameters']['seed'] = 7
    envelope['payload'] = base64.b64encode(json.dumps(payload).encode()).decode()
    json.dump(envelope, open(path, 'w'))
    assert verify(capsys, run_id, '--key', signed[3])[0] == 6


def test_an_unsigned_run_or_a_linked_attestation_fails_with_a_key(signed, tmp_path, capsys):
    store, run_id, _, public = signed
    path = os.path.join(store.run_dir(run_id), ATTESTATION_NAME)
    os.rename(path, tmp_path / 'moved.json')
    code, _, err = verify(capsys, run_id, '--key', public)
    assert code == 6 and 'is not signed (no attestation.dsse.json)' in err
    os.symlink(tmp_path / 'moved.json', path)  # a link is never followed
    code, _, err = verify(capsys, run_id, '--key', public)
    assert code == 6 and 'not a regular file reachable without following links' in err
    code, out, _ = verify(capsys, run_id)  # nor without a key: a problem, exit 3
    assert code == 3 and 'attestation.dsse.json is not a regular file' in out


def test_a_resealed_manifest_edit_is_a_statement_mismatch(signed, capsys):
    store, run_id, _, public = signed
    edit_manifest(store, run_id, seed=7)
    assert verify(capsys, run_id)[0] == 0  # the self-digest agrees: unsigned verify is fooled
    code, out, err = verify(capsys, run_id, '--key', public)
    assert code == StatementMismatchError.exit_code == 7
    assert 'forged: predicate.buildDefinition.externalParameters.seed: signed 0, the ' \
           'manifest says 7' in out
    assert err.count('\n') == 1 and '(2 field(s))' in err  # the seed and the digest


def test_a_field_outside_the_statement_is_caught_by_the_manifest_digest(signed, capsys):
    store, run_id, _, public = signed
    edit_manifest(store, run_id, runner={'pid': 1, 'host_id': 'x'})
    code, out, _ = verify(capsys, run_id, '--key', public)
    assert code == 7
    assert 'forged: manifest.json differs from the signed one in a field the statement ' \
           'does not show (its sha256 changed)' in out


def test_a_modified_artifact_with_a_good_signature_is_a_hash_failure(signed, capsys):
    store, run_id, _, public = signed
    with open(os.path.join(store.run_dir(run_id), 'outputs', 'progress.csv'), 'a') as f:
        f.write('2,0.1\n')
    code, out, _ = verify(capsys, run_id, '--key', public)
    assert code == VerificationError.exit_code == 3
    assert 'statement: the manifest gives the signed statement' in out
    assert 'modified: outputs/progress.csv' in out


def test_policy_pass_and_fail(signed, tmp_path, capsys):
    store, run_id, _, public = signed
    policy = tmp_path / 'policy.toml'
    policy.write_text('require_clean_tree = true\nrequire_network_off = true\n')
    code, out, _ = verify(capsys, run_id, '--key', public, '--policy', policy)
    assert code == 0
    assert '  pass  require_network_off: networking was off' in out
    assert out.splitlines()[-1] == f'run {run_id} meets the policy: 2 rule(s) passed'
    policy.write_text('require_network_off = true\nrequire_lock_hashes = true\n')
    code, out, err = verify(capsys, run_id, '--key', public, '--policy', policy)
    assert code == PolicyError.exit_code == 8
    assert '  FAIL  require_lock_hashes:' in out
    assert err.strip() == (f'repro: error: run {run_id} breaks the policy {policy}: 1 of 2 '
                           'rule(s) failed (require_lock_hashes)')


def test_policy_usage_errors(signed, tmp_path, capsys):
    store, run_id, _, public = signed
    policy = tmp_path / 'policy.toml'
    policy.write_text('require_network_of = true\n')
    assert verify(capsys, run_id, '--policy', policy)[0] == 2  # needs --key
    code, out, err = verify(capsys, run_id, '--key', public, '--policy', policy)
    assert code == 2 and out == '' and "unknown rule 'require_network_of'" in err
    assert verify(capsys, run_id, '--key', public, '--policy', tmp_path / 'none')[0] == 2


def test_require_replayed_finds_a_signed_reproduced_replay(signed, tmp_path, capsys):
    from repro.audit.attestation import sign_run
    from repro.audit.keys import load_private
    store, run_id, private, public = signed
    policy = tmp_path / 'policy.toml'
    policy.write_text('require_replayed = true\n')
    assert verify(capsys, run_id, '--key', public, '--policy', policy)[0] == 8
    _, replay_id = make_run(store.root)
    edit_manifest(store, replay_id, replay_of=run_id, replay_verdict='REPRODUCED')
    assert verify(capsys, run_id, '--key', public, '--policy', policy)[0] == 8  # unsigned
    sign_run(store, replay_id, load_private(private))
    code, out, _ = verify(capsys, run_id, '--key', public, '--policy', policy)
    assert code == 0 and f'signed replay {replay_id} REPRODUCED it' in out
    sign_run(store, replay_id, load_private(make_keys(tmp_path / 'k2')[0]))
    assert verify(capsys, run_id, '--key', public, '--policy', policy)[0] == 8  # other key


def test_sign_refuses_a_run_that_fails_verification_or_has_not_finished(
        signed, monkeypatch, capsys):
    store, run_id, private, _ = signed
    monkeypatch.setenv('REPRO_SIGNING_KEY', private)
    edit_manifest(store, run_id, status='running', runner={'pid': os.getpid()})
    assert main(['sign', run_id]) == 3
    assert 'has not finished' in capsys.readouterr().err
    edit_manifest(store, run_id, status='succeeded')
    os.unlink(os.path.join(store.run_dir(run_id), 'logs', 'stdout.log'))
    assert main(['sign', run_id]) == 3
    assert 'failed verification (missing: logs/stdout.log); not signing it' in \
        capsys.readouterr().err


def test_sign_without_a_key_and_export_of_an_unsigned_run(tmp_path, monkeypatch, capsys):
    store, run_id = make_run(tmp_path / 'store')
    monkeypatch.setenv('REPRO_HOME', store.root)
    monkeypatch.delenv('REPRO_SIGNING_KEY', raising=False)
    assert main(['sign', run_id]) == 2
    assert 'no signing key: set REPRO_SIGNING_KEY' in capsys.readouterr().err
    assert main(['export', run_id, '--format', 'dsse']) == 6
    assert f'run {run_id} is not signed' in capsys.readouterr().err


def test_signing_key_from_tool_repro(tmp_path, monkeypatch, capsys):
    store, run_id = make_run(tmp_path / 'store')
    private, public = make_keys(tmp_path / 'keys')
    project = tmp_path / 'proj'
    (project / '.git').mkdir(parents=True)
    (project / 'pyproject.toml').write_text(f'[tool.repro]\nsigning_key = "{private}"\n')
    monkeypatch.chdir(project)
    monkeypatch.setenv('REPRO_HOME', store.root)
    monkeypatch.delenv('REPRO_SIGNING_KEY', raising=False)
    assert main(['sign', run_id[:-1]]) == 0
    assert capsys.readouterr().out.startswith(f'signed {run_id} with ed25519 key ')
    assert main(['verify', run_id, '--key', public]) == 0


def test_the_replay_comparison_leaves_the_attestation_out(signed, tmp_path):
    from repro.audit.compare import compare_outputs
    store, run_id, _, _ = signed
    _, other = make_run(store.root)
    comparison = compare_outputs(store.run_dir(run_id), store.run_dir(other))
    assert not any(ATTESTATION_NAME in line for line in comparison.report)
    assert not any(d.file == ATTESTATION_NAME for d in comparison.divergences)
