"""Provenance: an in-toto Statement v1 with a SLSA Provenance v1 predicate.

Pure: built from a manifest alone. Subjects are every artifact by sha256;
resolved dependencies are the source tree (and commit), the lock, the run
image and its base image by digest; the parameters are the command, seed,
arguments and flags. The manifest itself is a byproduct by digest, so a
signed statement pins every manifest field, shown here or not.

:func:`statement_text` is both what ``repro export --format in-toto``
prints and the exact payload ``repro sign`` signs; :func:`differences`
compares a signed statement with the one the manifest gives now.
"""
import datetime
import json

from repro.core.safefs import display
from repro.store.manifest import MANIFEST_NAME, manifest_digest

STATEMENT_TYPE = 'https://in-toto.io/Statement/v1'
PREDICATE_TYPE = 'https://slsa.dev/provenance/v1'
BUILD_TYPE = 'urn:repro:run:v1'


def _digest(value):
    """``sha256:abc`` or ``abc`` -> ``{'sha256': 'abc'}``."""
    algorithm, _, hexdigest = value.rpartition(':')
    return {algorithm or 'sha256': hexdigest}


def timestamp(value):
    """An ISO time as RFC 3339 in UTC with ``Z`` (in-toto's form); as given
    if it is not a time (a manifest is untrusted: never raise)."""
    try:
        when = datetime.datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return value
    if when.tzinfo is not None:
        when = when.astimezone(datetime.timezone.utc)
    return when.strftime('%Y-%m-%dT%H:%M:%SZ')


def _subject(artifact):
    subject = {'name': artifact['path'], 'digest': {'sha256': artifact['sha256']}}
    if 'path_hex' in artifact:  # the exact bytes of a name that is not UTF-8
        subject['annotations'] = {'path_hex': artifact['path_hex']}
    return subject


def _dependencies(manifest):
    git, image, lock = manifest['git'], manifest['image'], manifest['lock']
    source = {'name': 'source', 'digest': {'gitTree': git['tree']},
              'annotations': {'dirty': git['dirty'], 'diff_sha256': git['diff_sha256'],
                              'branch': git.get('branch')}}
    if git.get('commit'):
        source['digest']['gitCommit'] = git['commit']
    if git.get('remote'):
        source['uri'] = f'git+{git["remote"]}' + (f'@{git["commit"]}' if git.get('commit')
                                                    else '')
    image_notes = {k: image.get(k) for k in ('key', 'dockerfile_sha256', 'layers', 'closure',
                                              'python', 'repo_digest') if k in image}
    return [
        source,
        {'name': lock['path'], 'digest': {'sha256': lock['sha256']},
         'annotations': {'hashed': lock.get('hashed')}},
        {'name': 'image', 'digest': _digest(image['id']) if image['id'] else {},
         'annotations': image_notes},
        {'name': 'base-image', 'uri': image['base'], 'digest': _digest(image['base_digest'])},
    ]


def statement(manifest):
    external = {'launcher': manifest['launcher'], 'seed': manifest['seed'],
                'args': manifest['args'], 'command': manifest['command'],
                'network': manifest.get('network', False), 'gpus': manifest.get('gpus')}
    for key in ('args_written', 'threads', 'sweep', 'resumed_from'):  # only on some runs
        if key in manifest:
            external[key] = manifest[key]
    record = {k: manifest[k] for k in ('error', 'unhashed', 'modes_dropped') if k in manifest}
    return {
        '_type': STATEMENT_TYPE,
        'subject': [_subject(a) for a in manifest['artifacts'] if 'sha256' in a],
        'predicateType': PREDICATE_TYPE,
        'predicate': {
            'buildDefinition': {
                'buildType': BUILD_TYPE,
                'externalParameters': external,
                'internalParameters': {'determinism': manifest.get('determinism') or {},
                                       'env': manifest.get('env') or {},
                                       'hostname': manifest.get('hostname'),
                                       'replay_of': manifest.get('replay_of'),
                                       'replay_verdict': manifest.get('replay_verdict')},
                'resolvedDependencies': _dependencies(manifest),
            },
            'runDetails': {
                'builder': {'id': f'urn:repro:builder:{manifest["repro_version"]}',
                            'version': {'repro': manifest['repro_version']}},
                'metadata': {'invocationId': manifest['run_id'],
                             'startedOn': timestamp(manifest['start_time']),
                             'finishedOn': timestamp(manifest.get('end_time'))},
                'byproducts': [{'name': MANIFEST_NAME,
                                'digest': {'sha256': manifest_digest(manifest)},
                                'annotations': {
                    'not_regular_files': [a for a in manifest['artifacts']
                                          if 'sha256' not in a],
                    'status': manifest['status'], 'exit_code': manifest.get('exit_code'),
                    'host': manifest.get('host') or {}, **record}}],
            },
        },
    }


def statement_text(manifest):
    """The statement as printed and signed: sorted keys, 2-space indent."""
    return json.dumps(statement(manifest), indent=2, sort_keys=True) + '\n'


def _by_name(items):
    """A list of named objects (subjects, dependencies) as {name: item}, or
    None when the names are missing or repeat (then compared by position)."""
    names = [i.get('name') if isinstance(i, dict) else None for i in items]
    if None in names or len(set(names)) != len(names):
        return None
    return dict(zip(names, items))


def _walk(signed, current, path, out):
    bracket = isinstance(signed, list) and isinstance(current, list)
    if bracket:
        named = _by_name(signed), _by_name(current)
        signed, current = named if None not in named else (dict(enumerate(signed)),
                                                            dict(enumerate(current)))
    if isinstance(signed, dict) and isinstance(current, dict):
        for key in sorted(signed.keys() | current.keys()):
            shown = display(str(key))
            where = f'{path}[{shown}]' if bracket else f'{path}.{shown}' if path else shown
            if key not in current:
                out.append(f'{where}: signed, but not in the manifest')
            elif key not in signed:
                out.append(f'{where}: in the manifest, but not signed')
            else:
                _walk(signed[key], current[key], where, out)
    elif signed != current or type(signed) is not type(current):
        out.append(f'{path}: signed {_short(signed)}, the manifest says {_short(current)}')


def _short(value):
    return display(json.dumps(value, sort_keys=True))[:80]


def differences(signed, manifest):
    """Where a signed statement and ``manifest``'s own statement differ
    (pure): one line per field, named by its path in the statement; the
    manifest's digest last, as it differs whenever anything else does."""
    out = []
    _walk(signed, statement(manifest), '', out)
    digest = [line for line in out if line.startswith('predicate.runDetails.byproducts['
                                                      f'{MANIFEST_NAME}].digest')]
    rest = [line for line in out if line not in digest]
    if digest and not rest:
        digest = [f'{MANIFEST_NAME} differs from the signed one in a field the statement '
                  'does not show (its sha256 changed)']
    return rest + digest
