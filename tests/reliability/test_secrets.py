"""Tokens in the environment, in a remote URL and in an uncommitted file never
reach a manifest, a log repro writes, or an export; the file is warned about."""
import subprocess

import pytest

from tests.support import repro, run_id_of

pytestmark = pytest.mark.docker


def test_secrets_never_reach_manifest_or_export_and_diff_tokens_are_warned(
        probe_project, tmp_path):
    home = tmp_path / 'store'
    token = 'ghp_' + 'Z' * 36
    git_token = 'ghp_' + 'Y' * 36
    subprocess.run(['git', '-C', str(probe_project), 'remote', 'add', 'origin',
                    f'https://user:{git_token}@github.com/o/r.git'], check=True)
    (probe_project / 'creds.py').write_text(f'TOKEN = "{token}"\n')
    try:
        result = repro('run', 'probe.py', cwd=probe_project, home=home)
        assert 'warning: possible GitHub token in uncommitted creds.py:1' in result.stderr
        assert token not in result.stderr and git_token not in result.stderr
        run_id, _ = run_id_of(result)
        text = (home / 'runs' / run_id / 'manifest.json').read_text()
        assert token not in text and git_token not in text
        assert '"remote": "https://github.com/o/r.git"' in text
        export = repro('export', run_id, cwd=probe_project, home=home).stdout
        assert token not in export and git_token not in export
        for log in (home / 'runs' / run_id / 'logs').rglob('*'):
            assert git_token not in log.read_text()
    finally:
        subprocess.run(['git', '-C', str(probe_project), 'remote', 'remove', 'origin'])
        (probe_project / 'creds.py').unlink()


def key_forms(private_path, passphrase):
    """Every form the private key could leak in: the PEM body lines, and the raw
    32 bytes as bytes, hex and base64; plus the passphrase."""
    import base64

    from cryptography.hazmat.primitives import serialization
    pem = open(private_path, 'rb').read()
    key = serialization.load_pem_private_key(pem, password=passphrase.encode())
    raw = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                            serialization.NoEncryption())
    lines = [line for line in pem.splitlines() if line and not line.startswith(b'-----')]
    return lines + [raw, raw.hex().encode(), base64.b64encode(raw),
                    base64.b64encode(raw).rstrip(b'='), passphrase.encode()]


def test_the_signing_key_never_reaches_a_manifest_log_or_export(probe_project, tmp_path,
                                                                 monkeypatch):
    from tests.helpers import make_keys
    home, passphrase = tmp_path / 'store', 'a passphrase of some length'
    private, public = make_keys(tmp_path / 'keys', passphrase=passphrase)
    monkeypatch.setenv('REPRO_SIGNING_KEY', private)
    monkeypatch.setenv('REPRO_KEY_PASSPHRASE', passphrase)
    result = repro('run', '--sign', 'probe.py', cwd=probe_project, home=home)
    run_id, _ = run_id_of(result)
    outputs = [result.stdout.encode(), result.stderr.encode()]
    for fmt in ('in-toto', 'dsse'):
        outputs.append(repro('export', run_id, '--format', fmt, cwd=probe_project,
                             home=home).stdout.encode())
    outputs.append(repro('verify', run_id, '--key', public, cwd=probe_project,
                         home=home).stdout.encode())
    files = [p for p in home.rglob('*') if p.is_file()]  # the manifest, logs, attestation
    assert any(p.name == 'attestation.dsse.json' for p in files)
    leaks = [(str(p), form[:8]) for p in files for form in key_forms(private, passphrase)
             if form in p.read_bytes()]
    leaks += [('output', form[:8]) for out in outputs for form in key_forms(private, passphrase)
              if form in out]
    assert leaks == []
