"""The container a run gets: the invoking user, no network, read-only source,
no capabilities, no-new-privileges, no Docker socket, no secrets."""
import json
import os

import pytest

from tests.support import check_manifest, repro, run_id_of

pytestmark = pytest.mark.docker


def test_container_is_confined(probe_project, tmp_path, monkeypatch):
    home = tmp_path / 'store'
    env_secret = {'AWS_SECRET_ACCESS_KEY': 'AKIAFAKESECRET', 'GITHUB_TOKEN': 'ghp_faketoken'}
    monkeypatch.setattr(os, 'environ', {**os.environ, **env_secret})
    result = repro('run', 'probe.py', '--seed', '7', '--', '--tag', 'a b', '--exit-code', '0',
                   cwd=probe_project, home=home)
    run_id, status = run_id_of(result)
    report = json.loads(next((home / 'runs' / run_id).rglob('probe.json')).read_text())
    assert report['argv'] == ['--tag', 'a b', '--exit-code', '0']  # verbatim
    assert (report['uid'], report['gid']) == (os.getuid(), os.getgid())
    assert report['interfaces'] == ['lo']  # networking off
    assert report['src_writable'] is False
    assert int(report['cap_eff'], 16) == 0 and report['no_new_privs'] == '1'
    assert report['docker_socket'] is False
    assert report['seed_env'] == '7' and report['hashseed'] == '0'
    assert report['secret_env'] == []
    text = (home / 'runs' / run_id / 'manifest.json').read_text()
    assert 'AKIAFAKESECRET' not in text and 'ghp_faketoken' not in text
    check_manifest(home, json.loads(text))
