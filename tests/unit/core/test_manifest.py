import hashlib
import json
import pathlib

import pytest

from repro.store.manifest import allowed_env, artifacts, check_format, render, sha256_file
from tests.helpers import example_manifest

SCHEMA = pathlib.Path(__file__).resolve().parents[3] / 'repro' / 'schemas' / \
    'manifest-v1.schema.json'


def test_example_manifest_matches_the_committed_schema():
    jsonschema = pytest.importorskip('jsonschema')
    schema = json.loads(SCHEMA.read_text())
    jsonschema.validate(example_manifest(), schema)
    bad = example_manifest()
    bad['git']['tree'] = 'not-a-hash'
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)


def test_render_is_canonical():
    a = example_manifest()
    b = dict(reversed(list(a.items())))
    assert render(a) == render(b)
    assert json.loads(render(a)) == a


def test_check_format():
    assert check_format({'format': 1}) == {'format': 1}
    with pytest.raises(Exception, match='not supported'):
        check_format({'format': 2})


def test_artifacts_hash_every_file_but_the_manifest(tmp_path):
    (tmp_path / 'sub').mkdir()
    (tmp_path / 'sub' / 'b.txt').write_bytes(b'hello')
    (tmp_path / 'a.csv').write_bytes(b'')
    (tmp_path / 'manifest.json').write_text('{}')
    entries = artifacts(str(tmp_path))
    assert [e['path'] for e in entries] == ['a.csv', 'sub/b.txt']
    assert entries[1] == {'path': 'sub/b.txt', 'size': 5, 'sha256':
                          '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824'}
    assert sha256_file(tmp_path / 'sub' / 'b.txt') == entries[1]['sha256']


def test_environment_allow_list_keeps_secrets_out():
    env = {'REPRO_SEED': '0', 'AWS_SECRET_ACCESS_KEY': 'x', 'GITHUB_TOKEN': 'ghp_x',
           'PYTHONHASHSEED': '0', 'HOME': '/root'}
    assert allowed_env(env) == {'REPRO_SEED': '0', 'PYTHONHASHSEED': '0'}


def test_artifacts_record_fifos_and_links_by_type_without_reading_them(tmp_path):
    import os
    (tmp_path / 'real.txt').write_text('x')
    os.mkfifo(tmp_path / 'pipe')  # hashing would block forever
    os.symlink('/etc/hostname', tmp_path / 'link')
    os.mkdir(tmp_path / 'd')
    os.symlink('/etc', tmp_path / 'd' / 'up')  # a link to a directory is not entered
    entries = artifacts(str(tmp_path))
    assert entries == [
        {'path': 'd/up', 'type': 'link', 'target': '/etc'},
        {'path': 'link', 'type': 'link', 'target': '/etc/hostname'},
        {'path': 'pipe', 'type': 'fifo'},
        {'path': 'real.txt', 'size': 1, 'sha256': hashlib.sha256(b'x').hexdigest()},
    ]


def test_artifacts_keep_names_that_are_not_utf8(tmp_path):
    import os
    name = os.fsencode(str(tmp_path)) + b'/caf\xe9.csv'
    with open(name, 'wb') as f:
        f.write(b'1')
    [entry] = artifacts(str(tmp_path))
    assert entry['path'] == 'caf\\xe9.csv' and entry['path_hex'] == b'caf\xe9.csv'.hex()
    render(entry).encode("utf-8")  # the manifest write cannot crash on it
