"""``repro verify``: does a run still hold exactly what its manifest says?

The manifest is checked first: its file must be the canonical rendering of
its content (so no byte can change unnoticed) and its ``integrity`` digest
must match. Then every file of the run is hashed again and compared with the
recorded artifacts: modified, missing and unexpected files are reported.
"""
import json
import os

from repro.manifest import artifacts, check_format, manifest_digest, render


def manifest_problems(text):
    """Problems with a manifest file's text (pure): [] when it is intact."""
    try:
        manifest = json.loads(text)
    except ValueError as exc:
        return [f'manifest.json is not valid JSON ({exc.msg})'], None
    if not isinstance(manifest, dict):
        return ['manifest.json is not a JSON object'], None
    problems = []
    if text != render(manifest):
        problems.append('manifest.json was edited (not in canonical form)')
    recorded = (manifest.get('integrity') or {}).get('manifest_sha256')
    if recorded is None:
        problems.append('manifest.json has no integrity digest')
    elif recorded != manifest_digest(manifest):
        problems.append('manifest.json content does not match its integrity digest')
    return problems, manifest


def artifact_problems(recorded, actual):
    """Modified, missing and unexpected files (pure): a list of lines."""
    want = {a['path']: a for a in recorded}
    have = {a['path']: a for a in actual}
    problems = []
    for path in sorted(want.keys() | have.keys()):
        if path not in have:
            problems.append(f'missing: {path}')
        elif path not in want:
            problems.append(f'unexpected: {path}')
        elif (want[path]['sha256'], want[path]['size']) != (have[path]['sha256'],
                                                            have[path]['size']):
            problems.append(f'modified: {path}')
    return problems


def verify_run(store, run_id):
    """(problems, number of artifacts checked) for one run."""
    path = store.manifest_path(run_id)
    try:
        with open(path, encoding='utf-8', newline='') as f:
            text = f.read()
    except UnicodeDecodeError:
        text = '\0'
    except FileNotFoundError:
        return ['missing: manifest.json'], 0
    problems, manifest = manifest_problems(text)
    if manifest is None:
        return problems, 0
    check_format(manifest, path)
    recorded = manifest.get('artifacts') or []
    problems += artifact_problems(recorded, artifacts(os.path.dirname(path)))
    return problems, len(recorded)
