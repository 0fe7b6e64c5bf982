"""Provenance export: an in-toto Statement v1 with a SLSA Provenance v1 predicate.

Pure: built from a manifest alone. Subjects are the run's artifacts with
their sha256; resolved dependencies are the source tree (and commit), the
lock, the run image and its base image by digest; the invocation records
the seed, arguments and determinism flags.
"""
STATEMENT_TYPE = 'https://in-toto.io/Statement/v1'
PREDICATE_TYPE = 'https://slsa.dev/provenance/v1'
BUILD_TYPE = 'urn:repro:run:v1'


def _digest(value):
    """``sha256:abc`` or ``abc`` -> ``{'sha256': 'abc'}``."""
    algorithm, _, hexdigest = value.rpartition(':')
    return {algorithm or 'sha256': hexdigest}


def statement(manifest):
    git, image, lock = manifest['git'], manifest['image'], manifest['lock']
    source = {'name': 'source', 'digest': {'gitTree': git['tree']},
              'annotations': {'dirty': git['dirty'], 'diff_sha256': git['diff_sha256'],
                              'branch': git.get('branch')}}
    if git.get('commit'):
        source['digest']['gitCommit'] = git['commit']
    if git.get('remote'):
        source['uri'] = f'git+{git["remote"]}' + (f'@{git["commit"]}' if git.get('commit')
                                                    else '')
    dependencies = [
        source,
        {'name': lock['path'], 'digest': {'sha256': lock['sha256']}},
        {'name': 'image', 'digest': _digest(image['id']) if image['id'] else {},
         'annotations': {'key': image['key'], 'dockerfile_sha256': image['dockerfile_sha256']}},
        {'name': 'base-image', 'uri': image['base'], 'digest': _digest(image['base_digest'])},
    ]
    return {
        '_type': STATEMENT_TYPE,
        'subject': [{'name': a['path'], 'digest': {'sha256': a['sha256']}}
                    for a in manifest['artifacts'] if 'sha256' in a],
        'predicateType': PREDICATE_TYPE,
        'predicate': {
            'buildDefinition': {
                'buildType': BUILD_TYPE,
                'externalParameters': {'launcher': manifest['launcher'],
                                       'seed': manifest['seed'], 'args': manifest['args'],
                                       'command': manifest['command'],
                                       'network': manifest.get('network', False),
                                       'gpus': manifest.get('gpus')},
                'internalParameters': {'determinism': manifest.get('determinism') or {},
                                       'env': manifest.get('env') or {},
                                       'replay_of': manifest.get('replay_of')},
                'resolvedDependencies': dependencies,
            },
            'runDetails': {
                'builder': {'id': f'urn:repro:builder:{manifest["repro_version"]}',
                            'version': {'repro': manifest['repro_version']}},
                'metadata': {'invocationId': manifest['run_id'],
                             'startedOn': manifest['start_time'],
                             'finishedOn': manifest.get('end_time')},
                'byproducts': [{'name': 'manifest.json', 'annotations': {
                    'not_regular_files': [a for a in manifest['artifacts']
                                          if 'sha256' not in a],
                    'status': manifest['status'], 'exit_code': manifest.get('exit_code'),
                    'host': manifest.get('host') or {}}}],
            },
        },
    }
