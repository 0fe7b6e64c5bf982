"""The one way to read a run's manifest: a safe read, the schema, integrity.

A manifest comes from the run store, which may have been handed over by
someone else (a repository that committed ``.repro``) or edited. Before any
command uses one it is read without following links, parsed strictly,
checked against ``schemas/manifest-v1.schema.json`` (types, patterns,
enums) and for paths that could leave the run directory, and its integrity
digest is checked. :func:`load` raises a one-line error for the first
problem; :func:`read` returns the problems for commands that show them
(``show``, ``ls``, ``verify``).
"""
import functools
import json
import os
import re

from repro.core import safefs
from repro.errors import StoreError, UntrustedFileError, VerificationError
from repro.store.manifest import FORMAT, MANIFEST_NAME, manifest_digest, render

SCHEMA = os.path.join(os.path.dirname(os.path.dirname(__file__)), 'schemas', 'manifest-v1.schema.json')
_TYPES = {'object': dict, 'array': list, 'string': str, 'boolean': bool, 'null': type(None)}


@functools.lru_cache(maxsize=1)
def schema():
    with open(SCHEMA, encoding='utf-8') as f:
        return json.load(f)


def _type_ok(value, name):
    if name == 'integer':
        return isinstance(value, int) and not isinstance(value, bool)
    if name == 'number':
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, _TYPES[name])


def schema_errors(value, spec, where='manifest'):
    """Where ``value`` breaks ``spec``: the JSON Schema subset our schema uses
    (type, const, enum, pattern, minimum, required, properties,
    additionalProperties, items, anyOf, not). Pure."""
    types = spec.get('type')
    if types is not None:
        names = types if isinstance(types, list) else [types]
        if not any(_type_ok(value, n) for n in names):
            return [f'{where}: expected {" or ".join(names)}, got {type(value).__name__}']
    if 'const' in spec and value != spec['const']:
        return [f'{where}: must be {spec["const"]!r}']
    if 'enum' in spec and value not in spec['enum']:
        return [f'{where}: {safefs.display(repr(value))[:60]} is not one of {spec["enum"]}']
    if isinstance(value, str) and 'pattern' in spec and not re.search(spec['pattern'], value):
        return [f'{where}: {safefs.display(value)[:60]!r} has the wrong form']
    if isinstance(value, (int, float)) and 'minimum' in spec and value < spec['minimum']:
        return [f'{where}: below {spec["minimum"]}']
    if 'not' in spec and not schema_errors(value, spec['not'], where):
        return [f'{where}: has a forbidden combination of fields']
    if 'anyOf' in spec:
        options = [schema_errors(value, option, where) for option in spec['anyOf']]
        if all(options):
            return min(options, key=len)
    errors = []
    if isinstance(value, dict):
        errors += [f'{where}: "{key}" is missing' for key in spec.get('required', ())
                   if key not in value]
        props, extra = spec.get('properties', {}), spec.get('additionalProperties')
        for key, item in value.items():
            sub = props.get(key, extra if isinstance(extra, dict) else None)
            if sub is not None:
                errors += schema_errors(item, sub, f'{where}.{safefs.display(key)}')
    if isinstance(value, list) and isinstance(spec.get('items'), dict):
        for i, item in enumerate(value):
            errors += schema_errors(item, spec['items'], f'{where}[{i}]')
    return errors


def artifact_path(entry):
    """The on-disk relative path of an artifact entry (``path_hex`` holds the
    exact bytes of a name that is not UTF-8)."""
    if entry.get('path_hex') is not None:
        return os.fsdecode(bytes.fromhex(entry['path_hex']))
    return entry['path']


def _path_errors(manifest):
    """Paths that could leave the run directory or the source tree."""
    errors = []
    for i, entry in enumerate(manifest.get('artifacts') or []):
        try:
            safefs.check_relative(artifact_path(entry))
        except (UntrustedFileError, ValueError, TypeError, AttributeError) as exc:
            errors.append(f'manifest.artifacts[{i}].path: {getattr(exc, "message", exc)}')
    for key, value in (('launcher', manifest.get('launcher')),
                       ('lock.path', (manifest.get('lock') or {}).get('path'))):
        try:
            safefs.check_relative(value)
        except UntrustedFileError as exc:
            errors.append(f'manifest.{key}: {exc.message}')
    return errors


def content_problems(manifest, run_id=None):
    """Format, schema and path problems of a parsed manifest (pure)."""
    if not isinstance(manifest, dict):
        return ['manifest.json is not a JSON object']
    if manifest.get('format') != FORMAT:
        return [f'manifest format {safefs.display(repr(manifest.get("format")))[:40]} is not '
                f'supported (this repro reads format {FORMAT})']
    try:
        render(manifest).encode('utf-8')
    except UnicodeEncodeError:
        return ['manifest.json holds text that is not valid Unicode (a lone surrogate)']
    problems = schema_errors(manifest, schema())
    if not problems:
        problems = _path_errors(manifest)
    if run_id is not None and manifest.get('run_id') != run_id:
        problems.append(f'manifest.run_id is not the run directory\'s name {run_id}')
    return problems


def integrity_problems(text, manifest):
    """Edits to a manifest's text (pure): canonical form and its own digest."""
    problems = []
    if text != render(manifest):
        problems.append('manifest.json was edited (not in canonical form)')
    recorded = (manifest.get('integrity') or {}).get('manifest_sha256')
    if recorded is None:
        problems.append('manifest.json has no integrity digest')
    elif recorded != manifest_digest(manifest):
        problems.append('manifest.json content does not match its integrity digest')
    return problems


def parse(text, run_id=None):
    """(manifest or None, problems) for a manifest file's text (pure)."""
    try:
        manifest = json.loads(text, parse_constant=safefs._no_constant)
    except (ValueError, RecursionError) as exc:
        return None, [f'manifest.json is not valid JSON ({getattr(exc, "msg", exc)})']
    problems = content_problems(manifest, run_id)
    if problems:
        return None, problems
    return manifest, integrity_problems(text, manifest)


def read(store, run_id):
    """(manifest or None, problems): never raises for what the file holds.

    ``manifest`` is None when it cannot be used at all (unreadable,
    malformed); it is returned with integrity problems so ``show`` can
    display an edited run, marked.
    """
    try:
        text = safefs.read_text(store.run_dir(run_id), MANIFEST_NAME, safefs.MAX_JSON)
    except UntrustedFileError as exc:
        return None, [f'manifest.json: {exc.message}' if 'manifest.json' not in exc.message
                      else exc.message]
    return parse(text, run_id)


def load(store, run_id):
    """The manifest of ``run_id``, checked; a one-line error if it can't be trusted."""
    manifest, problems = read(store, run_id)
    if manifest is None:
        if problems and problems[0].startswith('manifest format'):
            raise StoreError(f'run {run_id}: {problems[0]}', 'upgrade repro')
        raise StoreError(f'run {run_id} has a broken manifest: {problems[0]}')
    if problems:
        raise VerificationError(f'run {run_id} has a tampered manifest: {problems[0]}',
                                f'see `repro verify {run_id}`')
    return manifest
