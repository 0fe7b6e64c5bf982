"""Audit policy rules against statements (pure): each rule passes and fails."""
import datetime

import pytest

from repro.audit.policy import evaluate, parse
from repro.audit.provenance import statement
from repro.errors import ConfigError
from tests.helpers import example_manifest

NOW = datetime.datetime(2026, 11, 30, tzinfo=datetime.timezone.utc)
BASE = 'sha256:' + '1' * 64


def good_manifest():
    manifest = example_manifest()
    manifest['env'] = {'REPRO_SEED': '0', 'REPRO_DETERMINISTIC': '1', 'PYTHONHASHSEED': '0',
                       'CUBLAS_WORKSPACE_CONFIG': ':4096:8'}
    manifest['determinism'] = {'deterministic': True, 'torch': '2.13.0+cpu',
                               'torch_deterministic_algorithms': True,
                               'cudnn_deterministic': True, 'cudnn_benchmark': False}
    manifest['lock']['hashed'] = True
    return manifest


ALL = f'''require_clean_tree = true
require_network_off = true
require_deterministic = true
allowed_base_digests = ["{BASE}"]
require_lock_hashes = true
max_age_days = 30
require_replayed = true
'''


def replay_of(manifest, verdict='REPRODUCED'):
    replay = good_manifest()
    replay.update(run_id='20261124-030000-cartpole_vpg-s0-aaaa', replay_of=manifest['run_id'],
                  replay_verdict=verdict)
    return replay['run_id'], statement(replay)


def results(manifest, text=ALL, replays=()):
    return {r.rule: r for r in evaluate(parse(text), statement(manifest), NOW,
                                        replays=lambda: list(replays))}


def test_every_rule_passes_for_a_good_run_with_a_signed_reproduced_replay():
    manifest = good_manifest()
    found = results(manifest, replays=[replay_of(manifest)])
    assert list(found) == ['require_clean_tree', 'require_network_off',
                           'require_deterministic', 'allowed_base_digests',
                           'require_lock_hashes', 'max_age_days', 'require_replayed']
    assert all(r.passed for r in found.values()), [str(r) for r in found.values()]
    assert str(found['max_age_days']) == 'pass  max_age_days: 5.9 days old (at most 30)'


@pytest.mark.parametrize('edit, rule, detail', [
    (lambda m: m['git'].update(dirty=True), 'require_clean_tree', 'uncommitted changes'),
    (lambda m: m['git'].update(commit=None), 'require_clean_tree', 'no commit recorded'),
    (lambda m: m.update(network=True), 'require_network_off', 'networking was on'),
    (lambda m: m['env'].update(REPRO_DETERMINISTIC='0'), 'require_deterministic',
     'REPRO_DETERMINISTIC was not 1'),
    (lambda m: m.update(seed=None), 'require_deterministic', 'no seed'),
    (lambda m: m['determinism'].update(cudnn_benchmark=True), 'require_deterministic',
     'benchmark mode was on'),
    (lambda m: m['determinism'].update(torch_deterministic_algorithms=False),
     'require_deterministic', 'deterministic algorithms were off'),
    (lambda m: m['image'].update(base_digest='sha256:' + '9' * 64), 'allowed_base_digests',
     'not in allowed_base_digests'),
    (lambda m: m['lock'].update(hashed=False), 'require_lock_hashes', 'does not pin'),
    (lambda m: m['lock'].pop('hashed'), 'require_lock_hashes', 'an older repro'),
    (lambda m: m.update(end_time='2026-09-01T00:00:00+00:00'), 'max_age_days',
     'days old, more than 30'),
    (lambda m: m.update(end_time='2027-01-01T00:00:00Z'), 'max_age_days', 'in the future'),
    (lambda m: m.update(end_time='yesterday'), 'max_age_days', 'does not record'),
])
def test_each_rule_fails_on_its_own(edit, rule, detail):
    manifest = good_manifest()
    edit(manifest)
    found = results(manifest, replays=[replay_of(manifest)])
    assert [r for r, result in found.items() if not result.passed] == [rule]
    assert detail in found[rule].detail


def test_require_replayed_needs_a_reproduced_replay_of_this_run():
    manifest = good_manifest()
    text = 'require_replayed = true\n'
    assert results(manifest, text)['require_replayed'].detail == \
        'no replay of it signed by this key'
    diverged = results(manifest, text, [replay_of(manifest, 'DIVERGED')])['require_replayed']
    assert not diverged.passed and '(DIVERGED)' in diverged.detail
    other = good_manifest()
    other['run_id'] = '20261124-040000-x-s0-bbbb'
    assert not results(manifest, text, [replay_of(other)])['require_replayed'].passed


def test_replays_are_looked_up_only_for_require_replayed():
    evaluate(parse('require_network_off = true'), statement(good_manifest()), NOW,
             replays=lambda: pytest.fail('looked up'))


@pytest.mark.parametrize('text, message', [
    ('require_clean_tre = true', "unknown rule 'require_clean_tre'"),
    ('require_clean_tree = "yes"', 'must be true or false'),
    ('allowed_base_digests = "sha256:abc"', 'list of "sha256:<64 hex>"'),
    ('allowed_base_digests = []', 'list of'),
    ('max_age_days = 0', 'above 0'),
    ('max_age_days = true', 'above 0'),
    ('require_clean_tree = false', 'states no rules'),
    ('', 'states no rules'),
    ('require_clean_tree = ', 'not valid TOML'),
])
def test_bad_policies_are_config_errors(text, message):
    with pytest.raises(ConfigError, match=message):
        parse(text, 'p.toml')


def test_a_digest_without_its_algorithm_is_accepted():
    assert results(good_manifest(), f'allowed_base_digests = ["{"1" * 64}"]')[
        'allowed_base_digests'].passed
