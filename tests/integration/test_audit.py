"""The audit path in real containers: run --sign, a policy that waits for a
replay, replay --sign, and then every rule passes."""
import json

import pytest

from tests.helpers import make_keys
from tests.support import manifest, repro, run_id_of

pytestmark = pytest.mark.docker


def test_run_sign_policy_replay_sign(probe_project, tmp_path, monkeypatch):
    home = tmp_path / 'store'
    private, public = make_keys(tmp_path / 'keys', passphrase='audit passphrase')
    monkeypatch.setenv('REPRO_SIGNING_KEY', private)
    monkeypatch.setenv('REPRO_KEY_PASSPHRASE', 'audit passphrase')
    run_id, status = run_id_of(repro('run', '--sign', 'probe.py', cwd=probe_project,
                                     home=home))
    assert status == 'succeeded'
    recorded = manifest(home, run_id)
    assert recorded['lock']['hashed'] is True
    policy = tmp_path / 'policy.toml'
    policy.write_text(f'''require_clean_tree = true
require_network_off = true
require_deterministic = true
allowed_base_digests = [{json.dumps(recorded["image"]["base_digest"])}]
require_lock_hashes = true
max_age_days = 1
require_replayed = true
''')
    before = repro('verify', run_id, '--key', public, '--policy', policy, cwd=probe_project,
                   home=home, check=False)
    assert before.returncode == 8, before.stdout + before.stderr
    fails = [line for line in before.stdout.splitlines() if line.startswith('  FAIL')]
    assert fails == ['  FAIL  require_replayed: no replay of it signed by this key']
    replay = repro('replay', '--sign', run_id, cwd=probe_project, home=home)
    assert replay.stdout.strip().splitlines()[-1].startswith('REPRODUCED')
    replay_id = replay.stdout.strip().splitlines()[-2].split()[1]
    assert manifest(home, replay_id)['replay_verdict'] == 'REPRODUCED'
    after = repro('verify', run_id, '--key', public, '--policy', policy, cwd=probe_project,
                  home=home, check=False)
    assert after.returncode == 0, after.stdout + after.stderr
    assert f'  pass  require_replayed: signed replay {replay_id} REPRODUCED it' in after.stdout
    assert after.stdout.strip().splitlines()[-1] == \
        f'run {run_id} meets the policy: 7 rule(s) passed'
