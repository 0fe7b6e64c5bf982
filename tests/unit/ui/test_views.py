"""The run browser's pure parts: manifests to JSON, and who may connect."""
import math

import pytest

from repro.errors import ConfigError
from repro.ui import launch, views
from tests.helpers import example_manifest


def manifest(run_id, **fields):
    return {**example_manifest(), 'run_id': run_id, **fields}


def test_lineage_and_verdicts_both_ways():
    original = manifest('r1')
    replays = [manifest('r3', replay_of='r1', replay_verdict='DIVERGED'),
               manifest('r2', replay_of='r1', replay_verdict='REPRODUCED')]
    by = views.replayed_by([original, *replays])
    assert by == {'r1': [{'run_id': 'r2', 'verdict': 'REPRODUCED'},
                         {'run_id': 'r3', 'verdict': 'DIVERGED'}]}
    assert views.verdict_of(original, by['r1']) == 'DIVERGED'  # the latest replay's
    assert views.verdict_of(replays[1], []) == 'REPRODUCED'  # a replay's own
    assert views.verdict_of(manifest('r4'), []) is None
    detail = views.run_detail(original, 'succeeded', [], by['r1'], {})
    assert detail['lineage'] == {'replay_of': None, 'replay_verdict': None,
                                 'replayed_by': by['r1'], 'resumed_from': None}


def test_a_row_has_every_column_and_survives_a_forged_manifest():
    row = views.run_row(manifest('r1', sweep={'id': 'sw', 'index': 0, 'params': {'lr': '0.1'}}))
    assert {k: row[k] for k in ('run_id', 'status', 'seed', 'launcher', 'commit', 'image',
                                'sweep', 'grid_point', 'duration', 'verdict')} == {
        'run_id': 'r1', 'status': 'succeeded', 'seed': 0, 'launcher': 'examples/cartpole_vpg.py',
        'commit': 'a' * 40, 'image': 'sha256:' + 'e' * 64, 'sweep': 'sw', 'grid_point': 'lr=0.1',
        'duration': '1m00s', 'verdict': None}
    forged = {'run_id': 'r1', 'git': [1], 'image': 'x', 'sweep': {'id': 5, 'params': 'p'},
              'artifacts': {'a': 1}, 'replay_of': 7}
    assert views.run_row(forged)['sweep'] is None
    assert views.run_detail(forged, None, ['edited'], [], {})['artifacts'] == []
    assert views.broken_row('r9', 'not JSON')['status'] == 'broken'


def test_only_recorded_regular_files_are_offered_for_download():
    rows = views.artifact_rows([
        {'path': 'outputs/a.csv', 'size': 1, 'sha256': 'f' * 64},
        {'path': 'outputs/link', 'type': 'link', 'target': '/etc/passwd'},
        {'path': 'outputs/fifo', 'type': 'fifo'},
        {'path': 'outputs/\\xff', 'path_hex': '6f7574707574732fff', 'size': 1, 'sha256': 'f' * 64},
        {'path': 'outputs/\u202eevil', 'size': 1, 'sha256': 'f' * 64}, 'junk'])
    assert [(r['path'], r['type'], r['download']) for r in rows] == [
        ('outputs/a.csv', 'file', True), ('outputs/link', 'link', False),
        ('outputs/fifo', 'fifo', False), ('outputs/\\\\xff', 'file', False),
        ('outputs/\\u202eevil', 'file', False), ('None', 'file', False)]
    assert rows[1]['target'] == '/etc/passwd'


def test_curves_carry_no_nan_and_the_first_divergence_is_found():
    curve = views.curve('TotalEnvSteps', [1.0, 2.0, 3.0], [0.5, math.nan, math.inf])
    assert curve == {'x': 'TotalEnvSteps', 'points': [[1.0, 0.5], [2.0, None], [3.0, None]]}
    a = [[100, 1.0], [200, 2.0], [300, 3.0]]
    assert views.first_divergence(a, a) is None
    assert views.first_divergence(a, [[100, 1.0], [200, 2.5], [300, 3.0]]) == \
        {'index': 1, 'x': 200, 'a': 2.0, 'b': 2.5}
    assert views.first_divergence(a, a[:2]) == {'index': 2, 'x': 300, 'a': None, 'b': None}


def test_the_default_metric():
    assert views.default_metric({'progress': ['AverageReturn', 'Epoch'], 'tensorboard': []}) \
        == 'AverageReturn'
    assert views.default_metric({'progress': ['Epoch', 'Loss'], 'tensorboard': ['x']}) == 'Loss'
    assert views.default_metric({'progress': [], 'tensorboard': ['charts/r']}) == 'charts/r'
    assert views.default_metric({'progress': [], 'tensorboard': []}) is None


def test_grid_points_have_mean_and_spread_across_seeds():
    record = {'members': [{'name': f'lr={lr},s{s}', 'params': {'lr': lr}, 'seed': s}
                          for lr in ('0.1', '0.5') for s in (0, 1)]}
    rows = [{'index': i, 'run_id': f'r{i}', 'status': 'succeeded' if i != 3 else 'failed',
             'seed': i % 2} for i in range(4)]
    series = {'r0': ('Epoch', [0.0, 1.0], [1.0, 2.0]), 'r1': ('Epoch', [0.0, 1.0], [3.0, 4.0]),
              'r2': ('Epoch', [0.0, 1.0], [5.0, 6.0])}
    low, high = views.grid_points(record, rows, series)
    assert (low['name'], low['n'], low['mean'], low['std']) == ('lr=0.1', 2, 3.0, 1.0)
    assert low['curve'] == {'x': 'Epoch', 'mean': [[0.0, 2.0], [1.0, 3.0]],
                            'band': [[0.0, 1.0, 3.0], [1.0, 2.0, 4.0]]}
    assert (high['name'], high['n'], high['mean'], high['std']) == ('lr=0.5', 1, 6.0, 0.0)
    assert [m['status'] for m in high['members']] == ['succeeded', 'failed']
    assert high['members'][1]['final'] is None


@pytest.mark.parametrize('host, loopback', [
    ('127.0.0.1', True), ('localhost', True), ('::1', True), ('[::1]', True),
    ('127.0.0.2', True), ('0.0.0.0', False), ('192.168.1.5', False), ('example.com', False)])
def test_loopback_hosts(host, loopback):
    assert launch.is_loopback(host) is loopback


def test_a_token_is_made_up_off_loopback_and_checked_for_form():
    assert launch.access('127.0.0.1', None) == (None, None)
    token, warning = launch.access('0.0.0.0', None)
    assert len(token) >= 32 and 'not loopback' in warning
    assert launch.access('0.0.0.0', 'x' * 20)[0] == 'x' * 20
    for bad in ('short', 'a' * 20 + ';', 'a' * 20 + ' b', 'é' * 20):
        with pytest.raises(ConfigError):
            launch.access('0.0.0.0', bad)


def test_the_guard_rule():
    server = pytest.importorskip('repro.ui.server')
    assert server.refusal('127.0.0.1:8000', [], None, True) is None
    assert server.refusal('[::1]:8000', [], None, True) is None
    assert server.refusal('localhost', [], None, True) is None
    assert server.refusal('evil.example:8000', [], None, True)[0] == 421  # DNS rebinding
    assert server.refusal(None, [], None, True)[0] == 421
    assert server.refusal('evil.example', [], None, False) is None
    token = 't' * 32
    assert server.refusal('h', ['', 'wrong'], token, False)[0] == 401
    assert server.refusal('h', ['', token], token, False) is None
    assert server.refusal('h', ['\udcff'], token, False)[0] == 401
