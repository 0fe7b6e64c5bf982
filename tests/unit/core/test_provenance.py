"""The exported statement has in-toto v1 / SLSA v1 structure and true digests."""
import json

import pytest

from repro.cli import main
from repro.audit.provenance import statement
from tests.helpers import make_run

# The published field structure (in-toto Statement v1, SLSA Provenance v1),
# written down as a JSON Schema: required fields and their types.
DIGEST = {'type': 'object', 'minProperties': 1,
          'additionalProperties': {'type': 'string', 'pattern': '^[0-9a-f]+$'}}
RESOURCE = {'type': 'object', 'anyOf': [{'required': ['uri']}, {'required': ['digest']},
                                        {'required': ['content']}],
            'properties': {'uri': {'type': 'string'}, 'digest': DIGEST,
                           'name': {'type': 'string'}, 'annotations': {'type': 'object'}}}
SCHEMA = {
    'type': 'object',
    'required': ['_type', 'subject', 'predicateType', 'predicate'],
    'properties': {
        '_type': {'const': 'https://in-toto.io/Statement/v1'},
        'subject': {'type': 'array', 'minItems': 1, 'items': {
            'type': 'object', 'required': ['name', 'digest'],
            'properties': {'name': {'type': 'string'}, 'digest': DIGEST}}},
        'predicateType': {'const': 'https://slsa.dev/provenance/v1'},
        'predicate': {
            'type': 'object', 'required': ['buildDefinition', 'runDetails'],
            'properties': {
                'buildDefinition': {
                    'type': 'object',
                    'required': ['buildType', 'externalParameters'],
                    'properties': {'buildType': {'type': 'string', 'format': 'uri'},
                                   'externalParameters': {'type': 'object'},
                                   'internalParameters': {'type': 'object'},
                                   'resolvedDependencies': {'type': 'array', 'items': RESOURCE}}},
                'runDetails': {
                    'type': 'object', 'required': ['builder'],
                    'properties': {
                        'builder': {'type': 'object', 'required': ['id'],
                                    'properties': {'id': {'type': 'string'}}},
                        'metadata': {'type': 'object', 'properties': {
                            'invocationId': {'type': 'string'},
                            'startedOn': {'type': 'string'},
                            'finishedOn': {'type': ['string', 'null']}}},
                        'byproducts': {'type': 'array', 'items': {'type': 'object'}}}}}}},
}


def test_statement_structure_and_digests(tmp_path, monkeypatch, capsys):
    jsonschema = pytest.importorskip('jsonschema')
    store, run_id = make_run(tmp_path / 'store')
    monkeypatch.setenv('REPRO_HOME', str(store.root))
    out = tmp_path / 'prov.json'
    assert main(['export', run_id, '--format', 'in-toto', '-o', str(out)]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    data = json.loads(out.read_text())
    jsonschema.validate(data, SCHEMA)
    manifest = store.read_manifest(run_id)
    from repro.store.manifest import sha256_file
    for subject in data['subject']:
        assert sha256_file(f'{store.run_dir(run_id)}/{subject["name"]}') == \
            subject['digest']['sha256']
    deps = {d['name']: d for d in data['predicate']['buildDefinition']['resolvedDependencies']}
    assert deps['source']['digest']['gitTree'] == manifest['git']['tree']
    assert deps['requirements.lock']['digest'] == {'sha256': manifest['lock']['sha256']}
    assert deps['image']['digest']['sha256'] == manifest['image']['id'].split(':')[1]
    assert deps['base-image']['digest']['sha256'] == manifest['image']['base_digest'].split(':')[1]
    params = data['predicate']['buildDefinition']['externalParameters']
    assert params['seed'] == manifest['seed'] and params['args'] == manifest['args']
    assert data['predicate']['runDetails']['metadata']['invocationId'] == run_id
    assert main(['export', run_id]) == 0  # stdout
    assert json.loads(capsys.readouterr().out) == data


def test_unknown_format(tmp_path, monkeypatch, capsys):
    store, run_id = make_run(tmp_path / 'store')
    monkeypatch.setenv('REPRO_HOME', str(store.root))
    assert main(['export', run_id, '--format', 'spdx']) == 2
    assert 'unknown export format' in capsys.readouterr().err


def test_pure_statement_has_no_secrets():
    from tests.helpers import example_manifest
    manifest = example_manifest()
    manifest['git']['remote'] = 'https://github.com/o/r.git'
    text = json.dumps(statement(manifest))
    assert 'git+https://github.com/o/r.git@' in text


def test_timestamps_are_rfc3339_utc_and_the_manifest_is_pinned_by_digest():
    from repro.store.manifest import manifest_digest
    from tests.helpers import example_manifest
    manifest = example_manifest()
    manifest['start_time'] = '2026-11-24T03:10:00+01:00'
    meta = statement(manifest)['predicate']['runDetails']
    assert meta['metadata']['startedOn'] == '2026-11-24T02:10:00Z'
    assert meta['metadata']['finishedOn'] == '2026-11-24T02:11:00Z'
    assert meta['byproducts'][0]['digest'] == {'sha256': manifest_digest(manifest)}


def test_differences_name_each_field_by_its_path():
    from repro.audit.provenance import differences
    from tests.helpers import example_manifest
    manifest = example_manifest()
    signed = statement(manifest)
    assert differences(signed, manifest) == []
    manifest['artifacts'].append({'path': 'extra.bin', 'size': 1, 'sha256': '4' * 64})
    manifest['args'] = ['--lr', '1']
    manifest['seed'] = False  # equal to 0 in Python, not in JSON
    found = differences(signed, manifest)
    assert found[:-1] == [
        'predicate.buildDefinition.externalParameters.args[0]: in the manifest, but not signed',
        'predicate.buildDefinition.externalParameters.args[1]: in the manifest, but not signed',
        'predicate.buildDefinition.externalParameters.seed: signed 0, the manifest says false',
        'subject[extra.bin]: in the manifest, but not signed']
    assert found[-1].startswith('predicate.runDetails.byproducts[manifest.json].digest.sha256')
    del manifest['artifacts'][0]
    assert 'subject[progress.csv]: signed, but not in the manifest' in differences(
        signed, manifest)


def test_a_resumed_run_says_which_outputs_it_continued():
    """Issue 13: the earlier attempt's outputs are an input of a resumed run."""
    from tests.helpers import example_manifest
    manifest = example_manifest()
    external = statement(manifest)['predicate']['buildDefinition']['externalParameters']
    assert 'resumed_from' not in external
    manifest['resumed_from'] = '20261124-034001-train-s0-8a1a'
    external = statement(manifest)['predicate']['buildDefinition']['externalParameters']
    assert external['resumed_from'] == '20261124-034001-train-s0-8a1a'
