"""Forged manifests: 30 edits, each re-sealed so the self-digest agrees.

The unsigned `repro verify` of before signing checks the manifest against
itself and the disk, so a forger who also fixes the files fools it every
time; `repro verify --key` compares the manifest with the signed statement
and catches every one. The test prints both verdicts side by side.
"""
import hashlib
import os
import shutil

import pytest

from repro.cli import main
from repro.store.runs import RunStore
from tests.helpers import signed_run

OTHER_RUN = '20200101-000000-forged-s0-abcd'


def _result(manifest):
    """The manifest entry of a result to forge: a snapshot if there is one."""
    files = [a for a in manifest['artifacts'] if 'sha256' in a and
             a['path'].startswith('outputs/') and '/.repro/' not in a['path']]
    return next((a for a in files if a['path'].endswith('.pkl')), files[0])


def _rewrite(run_dir, entry, data):
    with open(os.path.join(run_dir, entry['path']), 'wb') as f:
        f.write(data)
    entry.update(size=len(data), sha256=hashlib.sha256(data).hexdigest())


def artifact_hash(m, run_dir):
    _rewrite(run_dir, _result(m), b'forged result\n')


def added_artifact(m, run_dir):
    entry = {'path': 'outputs/forged.txt'}
    _rewrite(run_dir, entry, b'planted\n')
    m['artifacts'] = sorted(m['artifacts'] + [entry], key=lambda a: a['path'])


def removed_artifact(m, run_dir):
    entry = _result(m)
    os.unlink(os.path.join(run_dir, entry['path']))
    m['artifacts'].remove(entry)


def source_diff(m, run_dir):
    entry = next(a for a in m['artifacts'] if a['path'] == 'meta/source.diff')
    _rewrite(run_dir, entry, b'diff --git a/forged b/forged\n')
    m['git']['diff_sha256'] = entry['sha256']


def renamed_artifact(m, run_dir):
    entry = _result(m)
    new = entry['path'] + '.renamed'
    os.rename(os.path.join(run_dir, entry['path']), os.path.join(run_dir, new))
    entry['path'] = new
    m['artifacts'].sort(key=lambda a: a['path'])


def _set(section, key, value):
    def forge(m, _run_dir):
        (m.setdefault(section, {}) if section else m)[key] = value(m) if callable(value) \
            else value
    return forge


FORGERIES = [
    ('image id', _set('image', 'id', 'sha256:' + 'f' * 64)),
    ('args', _set(None, 'args', lambda m: m['args'] + ['--lr', '0.5'])),
    ('seed', _set(None, 'seed', lambda m: (m['seed'] or 0) + 1)),
    ('git commit', _set('git', 'commit', '0' * 40)),
    ('lock hash', _set('lock', 'sha256', '0' * 64)),
    ('one artifact hash (file rewritten)', artifact_hash),
    ('replay_of', _set(None, 'replay_of', OTHER_RUN)),
    ('an added artifact', added_artifact),
    ('a removed artifact', removed_artifact),
    ('base digest', _set('image', 'base_digest', 'sha256:' + '0' * 64)),
    ('git tree', _set('git', 'tree', '0' * 40)),
    ('status', _set(None, 'status', lambda m: 'failed' if m['status'] == 'succeeded'
                    else 'succeeded')),
    ('exit code', _set(None, 'exit_code', lambda m: 1 if m.get('exit_code') == 0 else 0)),
    ('env entry changed', _set('env', 'REPRO_DETERMINISTIC', '0')),
    ('env entry added', _set('env', 'OMP_NUM_THREADS', '64')),
    ('determinism flag', _set('determinism', 'deterministic', False)),
    ('network', _set(None, 'network', lambda m: not m.get('network', False))),
    ('gpus', _set(None, 'gpus', 'all')),
    ('launcher', _set(None, 'launcher', 'other.py')),
    ('command', _set(None, 'command', lambda m: m['command'] + ['--network'])),
    ('dirty flag', _set('git', 'dirty', lambda m: not m['git']['dirty'])),
    ('source diff (file and hash)', source_diff),
    ('git remote', _set('git', 'remote', 'https://github.com/attacker/r.git')),
    ('git branch', _set('git', 'branch', 'release')),
    ('image key', _set('image', 'key', '0' * 64)),
    ('Dockerfile hash', _set('image', 'dockerfile_sha256', '0' * 64)),
    ('base image name', _set('image', 'base', 'python:3.11')),
    ('start time', _set(None, 'start_time', '2020-01-01T00:00:00+00:00')),
    ('a renamed artifact', renamed_artifact),
    ('runner (outside the statement)', _set(None, 'runner', {'pid': 1, 'host_id': 'forged'})),
]


def forge_and_verify(store, run_id, public, tmp_path, monkeypatch, capsys):
    """Rows (forgery, unsigned verify's exit, verify --key's exit and line)."""
    rows = []
    for i, (name, forge) in enumerate(FORGERIES):
        copy = RunStore(tmp_path / f'forgery{i}')
        shutil.copytree(store.run_dir(run_id), copy.run_dir(run_id))
        manifest = copy.read_manifest(run_id)
        forge(manifest, copy.run_dir(run_id))
        copy.write_manifest(run_id, manifest)  # re-sealed with its own digest
        monkeypatch.setenv('REPRO_HOME', copy.root)
        capsys.readouterr()
        unsigned = main(['verify', run_id])
        capsys.readouterr()
        keyed = main(['verify', run_id, '--key', str(public)])
        rows.append((name, unsigned, keyed, capsys.readouterr().err.strip()))
    return rows


def _field(err):
    """The first differing field of a mismatch line, without the predicate's prefix."""
    field = err.split('field(s)): ', 1)[-1]
    for prefix in ('predicate.buildDefinition.', 'predicate.runDetails.'):
        field = field.replace(prefix, '')
    return field[:90]


def report(rows, capsys):
    """The side-by-side table, shown in the test output even when it passes."""
    fooled = sum(1 for _, unsigned, _, _ in rows if unsigned == 0)
    caught = sum(1 for _, _, keyed, _ in rows if keyed != 0)
    lines = [f'{"forgery (manifest re-sealed)":38} {"verify":14} verify --key']
    lines += [f'{name:38} {"OK (fooled)" if unsigned == 0 else f"exit {unsigned}":14} '
              f'{"caught, exit " + str(keyed) if keyed else "MISSED"}: {_field(err)}'
              for name, unsigned, keyed, err in rows]
    lines.append(f'unsigned verify caught {len(rows) - fooled} of {len(rows)}; '
                 f'verify --key caught {caught} of {len(rows)}')
    with capsys.disabled():
        print('\n' + '\n'.join(lines))


def check(rows, capsys):
    report(rows, capsys)
    assert len(rows) == 30
    assert [r[0] for r in rows if r[1] != 0] == []   # each forgery fools the unsigned verify
    assert [r[0] for r in rows if r[2] != 7] == []   # and is a statement mismatch with a key


def test_forgeries_of_a_synthetic_signed_run(tmp_path, monkeypatch, capsys):
    store, run_id, _, public = signed_run(tmp_path / 'store', tmp_path / 'keys')
    check(forge_and_verify(store, run_id, public, tmp_path, monkeypatch, capsys), capsys)


@pytest.mark.docker
def test_forgeries_of_a_real_signed_run(tmp_path, monkeypatch, capsys, base_image):
    """A CEM run under `repro run --sign`, then the same 30 forgeries."""
    import json

    from cryptography.hazmat.primitives.serialization import load_pem_public_key
    from securesystemslib.dsse import Envelope
    from securesystemslib.signer import SSlibKey
    from tests.helpers import make_keys
    from tests.support import ROOT, repro, run_id_of
    private, public = make_keys(tmp_path / 'keys')
    monkeypatch.setenv('REPRO_SIGNING_KEY', private)
    home = tmp_path / 'store'
    result = repro('run', '--sign', 'examples/cartpole_cem.py', '--', '--n-epochs', '2',
                   cwd=ROOT, home=home)
    run_id, status = run_id_of(result)
    assert status == 'succeeded' and 'signed: ' in result.stderr
    store = RunStore(home)
    rows = forge_and_verify(store, run_id, public, tmp_path, monkeypatch, capsys)
    check(rows, capsys)
    # The untouched run verifies with the key, and securesystemslib agrees.
    assert 'signature: good' in repro('verify', run_id, '--key', public, home=home).stdout
    text = (home / 'runs' / run_id / 'attestation.dsse.json').read_text()
    with open(public, 'rb') as f:
        key = SSlibKey.from_crypto(load_pem_public_key(f.read()))
    assert Envelope.from_dict(json.loads(text)).verify([key], 1) == {key.keyid: key}
