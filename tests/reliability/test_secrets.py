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
