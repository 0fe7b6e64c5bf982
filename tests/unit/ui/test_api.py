"""The run browser's HTTP API on a real uvicorn server, over runs made without
Docker: every endpoint, path traversal, bad ids, the token and the Host guard."""
import http.client
import json
import os
import shutil
import socket
import threading
import time

import pytest

from tests.helpers import make_run

uvicorn = pytest.importorskip('uvicorn')
server = pytest.importorskip('repro.ui.server')

TOKEN = 'k' * 32


class Live:
    """``make_app`` served by uvicorn on a free loopback port, in a thread."""

    def __init__(self, store, token=None, loopback=True):
        self.sock = socket.create_server(('127.0.0.1', 0))
        self.port = self.sock.getsockname()[1]
        config = uvicorn.Config(server.make_app(store, token, loopback), log_level='warning',
                                lifespan='off')
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={'sockets': [self.sock]})
        self.thread.start()
        while not self.server.started:
            time.sleep(0.01)

    def request(self, method, path, headers=None):
        """(status, headers, body): the path is sent exactly as given, unnormalised."""
        conn = http.client.HTTPConnection('127.0.0.1', self.port, timeout=30)
        try:
            conn.request(method, path, headers=headers or {})
            response = conn.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            conn.close()

    def get(self, path, **kw):
        status, _headers, body = self.request('GET', path, **kw)
        return status, json.loads(body) if body.startswith(b'{') else body

    def stop(self):
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()


@pytest.fixture
def runs(tmp_path):
    """Two synthetic runs, the second a replay of the first (same outputs)."""
    store, first = make_run(tmp_path / 'store')
    _store, second = make_run(tmp_path / 'store')
    manifest = json.loads(open(store.manifest_path(second)).read())
    manifest.update(replay_of=first, replay_verdict='REPRODUCED')
    store.write_manifest(second, manifest)
    return store, first, second


@pytest.fixture
def live(runs):
    served = Live(runs[0])
    yield served
    served.stop()


def test_runs_run_scalars_and_lineage(live, runs):
    _store, first, second = runs
    status, body = live.get('/api/runs')
    assert status == 200
    assert sorted((r['run_id'], r['verdict']) for r in body['runs']) == sorted([
        (first, 'REPRODUCED'), (second, 'REPRODUCED')])
    status, run = live.get(f'/api/runs/{first}')
    assert status == 200 and run['unverified'] == []
    assert run['lineage']['replayed_by'] == [{'run_id': second, 'verdict': 'REPRODUCED'}]
    assert run['metrics'] == {'progress': ['Epoch', 'Loss'], 'tensorboard': [], 'notes': []}
    assert run['diff'] == {'lines': ['diff --git a/x b/x'], 'note': None}
    assert [a['path'] for a in run['artifacts']] == [
        'logs/stdout.log', 'meta/source.diff', 'outputs/params.pkl', 'outputs/progress.csv']
    assert live.get(f'/api/runs/{second}')[1]['lineage']['replay_of'] == first
    status, curve = live.get(f'/api/runs/{first}/scalars?metric=Loss')
    assert curve == {'run_id': first, 'metric': 'Loss', 'x': 'Epoch',
                     'points': [[0.0, 0.5], [1.0, 0.25]]}
    status, body = live.get(f'/api/runs/{first}/scalars?metric=Nope')
    assert status == 400 and 'choose one of: Epoch, Loss' in body['error']
    assert live.get(f'/api/runs/{first}/scalars')[0] == 400


def test_verify_calls_repro_verify_and_changes_nothing(live, runs):
    store, first, _second = runs
    status, body = live.request('POST', f'/api/runs/{first}/verify')[::2]
    assert status == 200 and json.loads(body)['ok'] is True
    path = os.path.join(store.run_dir(first), 'outputs', 'progress.csv')
    with open(path, 'a') as f:
        f.write('2,0.125\n')
    before = {p: os.stat(os.path.join(store.root, p)).st_mtime_ns
              for p in ('runs', f'runs/{first}', f'runs/{first}/manifest.json')}
    result = json.loads(live.request('POST', f'/api/runs/{first}/verify')[2])
    assert result == {'run_id': first, 'ok': False,
                      'summary': f'run {first} failed verification: 1 problem(s)',
                      'lines': ['signature: unsigned', 'modified: outputs/progress.csv']}
    assert before == {p: os.stat(os.path.join(store.root, p)).st_mtime_ns for p in before}
    # the modified file is no longer served as the run's
    status, body = live.get(f'/api/runs/{first}/artifacts/outputs/progress.csv')
    assert status == 403 and 'modified since the run recorded it' in body['error']


def test_an_edited_manifest_is_listed_broken_shown_unverified_and_not_compared(live, runs):
    store, first, second = runs
    path = store.manifest_path(first)
    text = open(path).read()
    with open(path, 'w') as f:
        f.write(text.replace('"seed": 0', '"seed": 3'))
    rows = {r['run_id']: r for r in live.get('/api/runs')[1]['runs']}
    assert rows[first]['status'] == 'broken'
    assert 'does not match its integrity digest' in rows[first]['error']
    status, run = live.get(f'/api/runs/{first}')
    assert status == 200 and run['run']['seed'] == 3
    assert run['unverified'] == ['manifest.json content does not match its integrity digest']
    status, body = live.get(f'/api/compare?a={first}&b={second}')
    assert status == 409 and 'tampered manifest' in body['error']
    assert live.get(f'/api/runs/{first}/artifacts/outputs/progress.csv')[0] == 409
    with open(path, 'w') as f:
        f.write('{not json')
    status, body = live.get(f'/api/runs/{first}')
    assert status == 422 and 'broken manifest' in body['error']


def test_compare_is_repro_diff_and_the_replay_comparison(live, runs):
    store, first, second = runs
    status, body = live.get(f'/api/compare?a={first}&b={second}')
    assert status == 200
    assert [s['title'] for s in body['sections']] == [
        'code', 'dependencies', 'image', 'seed and arguments', 'determinism', 'host', 'metrics']
    assert body['outputs']['verdict'] == 'REPRODUCED'  # as a replay compares outputs
    assert body['divergence'] is None
    assert body['metric'] == 'Loss' and len(body['curves']['a']['points']) == 2
    path = os.path.join(store.run_dir(second), 'outputs', 'progress.csv')
    with open(path, 'w') as f:
        f.write('Epoch,Loss\n0,0.5\n1,0.75\n')
    body = live.get(f'/api/compare?a={first}&b={second}')[1]
    assert body['divergence'] == {'index': 1, 'x': 1.0, 'a': 0.25, 'b': 0.75}
    assert body['outputs']['first_divergence']['where'] == 'row 1 (epoch 1)'
    assert live.get(f'/api/compare?a={first}')[0] == 400


def test_artifacts_are_served_as_recorded_and_as_downloads(live, runs):
    _store, first, _second = runs
    status, headers, body = live.request('GET', f'/api/runs/{first}/artifacts/outputs/progress.csv')
    assert status == 200 and body == b'Epoch,Loss\n0,0.5\n1,0.25\n'
    assert headers['content-type'] == 'application/octet-stream'
    assert headers['content-disposition'] == 'attachment'


@pytest.mark.parametrize('path', [
    'outputs/../manifest.json', '../../../../etc/passwd', '%2e%2e/%2e%2e/%2e%2e/etc/passwd',
    'outputs%2F..%2F..%2F..%2Fetc%2Fpasswd', '/etc/passwd', '%2Fetc%2Fpasswd',
    'outputs/./progress.csv', 'outputs//progress.csv', 'manifest.json', 'outputs',
    'outputs/progress.csv%00', 'meta/../../other/outputs/progress.csv', '..%252f..%252fetc'])
def test_no_path_leaves_the_recorded_artifacts(live, runs, path):
    _store, first, _second = runs
    status, _headers, body = live.request('GET', f'/api/runs/{first}/artifacts/{path}')
    assert status in (400, 403, 404), (status, body)
    assert b'root:' not in body and b'"format"' not in body


def test_a_link_put_in_place_of_an_artifact_is_not_followed(live, runs, tmp_path):
    store, first, _second = runs
    secret = tmp_path / 'secret.txt'
    secret.write_text('secret outside the store\n')
    path = os.path.join(store.run_dir(first), 'outputs', 'progress.csv')
    os.unlink(path)
    os.symlink(secret, path)
    status, body = live.get(f'/api/runs/{first}/artifacts/outputs/progress.csv')
    assert status == 403 and 'not a regular file' in body['error']
    outputs = os.path.join(store.run_dir(first), 'outputs')
    shutil.rmtree(outputs)
    os.symlink(tmp_path, outputs)  # a linked directory on the way
    status, body = live.get(f'/api/runs/{first}/artifacts/outputs/progress.csv')
    assert status == 403
    status, body = live.get(f'/api/runs/{first}/scalars?metric=Loss')
    assert status in (400, 403) and 'secret' not in json.dumps(body)


@pytest.mark.parametrize('run_id, code', [
    ('nope', 400), ('..', 400), ('%2e%2e', 400), ('..%2F..%2Fetc', 404), ('%00', 400),
    ('20261124-021000-x-s0-3fa2', 404), ('20261124-021000-x-s0-3fa2%2F..', 404),
    ('20261124-021000-x-s0-3fa2%20', 400), ('20261124-021000-x-s0-XYZW', 400),
    ('20261124-021000-' + 'x' * 200 + '-s0-3fa2', 400)])
def test_bad_and_unknown_run_ids(live, run_id, code):
    """A bad id is a 400; a well-formed one of no run (or a path that an encoded
    slash splits, which no route takes) a 404."""
    for path in (f'/api/runs/{run_id}', f'/api/runs/{run_id}/scalars?metric=Loss'):
        assert live.get(path)[0] == code, path
    status, _body = live.get(f'/api/compare?a={run_id}&b={run_id}')
    assert status == (404 if code == 404 and '%2F' not in run_id else 400)


def test_a_prefix_is_not_an_id(live, runs):
    _store, first, _second = runs
    assert live.get(f'/api/runs/{first[:-1]}')[0] == 400


def test_nothing_but_verify_takes_a_post_and_nothing_else_writes(live, runs):
    _store, first, _second = runs
    for method, path in (('POST', '/api/runs'), ('PUT', f'/api/runs/{first}/verify'),
                         ('DELETE', f'/api/runs/{first}'), ('POST', '/'),
                         ('GET', f'/api/runs/{first}/verify'), ('PATCH', '/api/sweeps')):
        assert live.request(method, path)[0] == 405, (method, path)


def test_pages_static_files_and_security_headers(live, runs):
    _store, first, _second = runs
    for path in ('/', f'/runs/{first}', '/compare?a=x&b=y', '/sweeps/x'):
        status, headers, body = live.request('GET', path)
        assert status == 200 and b'/static/app.js' in body
        assert "script-src 'self'" in headers['content-security-policy']
        assert headers['x-content-type-options'] == 'nosniff'
        assert headers['referrer-policy'] == 'no-referrer'
    status, headers, body = live.request('GET', '/static/chart.js')
    assert status == 200 and headers['content-type'].startswith('text/javascript')
    for path in ('/static/../server.py', '/static/%2e%2e/server.py', '/static/views.py',
                 '/static/..%2Fserver.py'):
        status, _headers, body = live.request('GET', path)
        assert status == 404 and b'import' not in body


def test_sweeps_list_and_an_unknown_sweep(live):
    assert live.get('/api/sweeps') == (200, {'sweeps': []})
    assert live.get('/api/sweeps/20261124-021000-train-3fa2')[0] == 404
    assert live.get('/api/sweeps/..')[0] == 404


def test_the_host_header_must_be_loopback(live):
    status, body = live.get('/api/runs', headers={'Host': 'attacker.example'})
    assert status == 421 and 'loopback' in body['error']
    assert live.get('/api/runs', headers={'Host': 'localhost:1234'})[0] == 200


def test_a_token_is_needed_on_every_request_and_becomes_a_cookie(runs):
    served = Live(runs[0], token=TOKEN, loopback=False)
    try:
        for path in ('/', '/api/runs', '/static/app.js', f'/api/runs/{runs[1]}'):
            assert served.request('GET', path)[0] == 401
        assert served.request('GET', '/api/runs?token=' + 'k' * 31)[0] == 401
        status, headers, _body = served.request('GET', f'/?token={TOKEN}',
                                                headers={'Host': 'example.org'})
        assert status == 200
        cookie = headers['set-cookie'].split(';')[0]
        assert cookie == f'repro_ui_token_{served.port}={TOKEN}'
        assert 'HttpOnly' in headers['set-cookie'] and 'SameSite=Strict' in headers['set-cookie']
        assert served.request('GET', '/api/runs', headers={'Cookie': cookie})[0] == 200
        assert served.request('GET', '/api/runs',
                              headers={'Authorization': f'Bearer {TOKEN}'})[0] == 200
        assert served.request('POST', f'/api/runs/{runs[1]}/verify',
                              headers={'Cookie': f'repro_ui_token_{served.port}=x'})[0] == 401
    finally:
        served.stop()


def test_a_sweep_by_grid_point_with_mean_and_spread(tmp_path, monkeypatch):
    """A sweep on the fake engine: members write progress.csv rows of their seed."""
    from repro.execute import sweep
    from repro.store.runs import RunStore
    from tests.fakes import FakeEngine, fake_project, write_outputs
    root = fake_project(tmp_path, monkeypatch)
    fake = FakeEngine(behave=write_outputs({'progress.csv': 'Epoch,Loss\n0,{seed}\n1,{seed}\n'}))
    request = sweep.SweepRequest(str(root / 'train.py'), '0-1', ('lr=a,b',), ())
    result = sweep.start(request, connect=lambda: fake, progress=lambda m: None)
    served = Live(RunStore.for_project(str(root)))
    try:
        status, body = served.get(f'/api/sweeps/{result.sweep_id}')
        assert status == 200 and body['metric'] == 'Loss'  # the first learned column
        assert [(p['name'], p['n'], p['mean'], p['std']) for p in body['points']] == [
            ('lr=a', 2, 0.5, 0.5), ('lr=b', 2, 0.5, 0.5)]
        assert [m['seed'] for m in body['points'][0]['members']] == [0, 1]
        assert body['points'][0]['curve']['band'] == [[0.0, 0.0, 1.0], [1.0, 0.0, 1.0]]
        assert served.get(f'/api/sweeps/{result.sweep_id}?metric=Nope')[1]['points'][0][
            'mean'] is None
        listed = served.get('/api/sweeps')[1]['sweeps']
        assert [(s['sweep_id'], s['members']) for s in listed] == [(result.sweep_id, 4)]
    finally:
        served.stop()
