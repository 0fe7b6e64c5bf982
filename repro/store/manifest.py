"""Run manifests: format, rendering, artifact hashing, environment filter.

Rendering and hashing are pure functions so that the same run always gives
the same bytes; ``repro/schemas/manifest-v1.schema.json`` is the published
shape (tests validate real manifests against it).
"""
import hashlib
import json
import os
import re

from repro import contract

from repro.core import safefs
from repro.errors import StoreError

FORMAT = 1
MANIFEST_NAME = 'manifest.json'
# The signed statement about the manifest (``repro sign``): a record of the
# run beside the manifest, never one of its artifacts, since it signs them.
ATTESTATION_NAME = 'attestation.dsse.json'
RECORD_NAMES = (MANIFEST_NAME, ATTESTATION_NAME)
STATUSES = ('running', 'succeeded', 'failed', 'interrupted')

# Only these variables are recorded; everything else (tokens, keys,
# passwords) never reaches a manifest.
ENV_ALLOWLIST = (
    contract.ENV_SEED, 'PYTHONHASHSEED', 'CUBLAS_WORKSPACE_CONFIG', contract.ENV_DETERMINISTIC,
    contract.ENV_THREADS, contract.ENV_RESUME_FROM,
    'CUDA_VISIBLE_DEVICES', 'NVIDIA_VISIBLE_DEVICES', 'OMP_NUM_THREADS',
    'MKL_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'OPENBLAS_CORETYPE', 'TZ', 'LANG', 'LC_ALL',
)
_SECRET_LOOKING = re.compile(r'(TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|API_?KEY|PRIVATE)',
                             re.IGNORECASE)


def render(manifest):
    """Canonical JSON text of a manifest: sorted keys, 2-space indent."""
    return json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + '\n'


def manifest_digest(manifest):
    """sha256 of the canonical manifest without its ``integrity`` field."""
    body = {k: v for k, v in manifest.items() if k != 'integrity'}
    return hashlib.sha256(render(body).encode('utf-8')).hexdigest()


def seal(manifest):
    """The manifest with ``integrity`` set to its own digest."""
    return {**manifest, 'integrity': {'manifest_sha256': manifest_digest(manifest)}}


def check_format(manifest, where='manifest'):
    """Return ``manifest`` if its format is one this repro reads."""
    if not isinstance(manifest, dict) or 'format' not in manifest:
        raise StoreError(f'{where}: not a repro manifest (no "format")')
    if manifest['format'] != FORMAT:
        raise StoreError(f'{where}: manifest format {manifest["format"]!r} is not supported '
                         f'(this repro reads format {FORMAT})', 'upgrade repro')
    return manifest


def sha256_file(path, chunk=1 << 20):
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _is_record_temp(rel):
    """The atomic writer's temporary manifest or attestation, left behind by a SIGKILL."""
    return rel.startswith(tuple(f'.{name}.' for name in RECORD_NAMES)) and rel.endswith('.tmp')


def _text(name):
    """``name`` as manifest text: itself if UTF-8, else escaped (pure)."""
    return name if safefs.is_utf8(name) else safefs.display(name)


def artifact_entry(root, entry):
    """The manifest entry of one walked :class:`repro.core.safefs.Entry`.

    Regular files are hashed (read without following links); links are
    recorded with their target string and FIFOs, sockets and devices by
    type, never opened. A name that is not UTF-8 is kept escaped in
    ``path`` and exactly in ``path_hex``.
    """
    out = {'path': _text(entry.rel)}
    if not safefs.is_utf8(entry.rel):
        out['path_hex'] = os.fsencode(entry.rel).hex()
    if entry.kind == 'file':
        out['size'], out['sha256'] = safefs.sha256_of(root, entry.rel)
    else:
        out['type'] = entry.kind
        if entry.kind == 'link':
            out['target'] = _text(entry.target)
    return out


def artifacts(root, exclude=RECORD_NAMES, unreadable=None):
    """Every entry under ``root`` but directories and the run's records
    (manifest, attestation), sorted: path and size and sha256 for regular
    files, the type (and a link's target) for the rest.

    Entries that cannot be read are left out and, if ``unreadable`` is a
    list, named there (escaped).
    """
    excluded = set(exclude)
    entries = []

    def failed(rel):
        if unreadable is not None:
            unreadable.append(safefs.display(rel))
    for entry in safefs.walk(root, skip=lambda rel: rel in excluded or _is_record_temp(rel),
                             onerror=failed):
        try:
            entries.append(artifact_entry(root, entry))
        except (OSError, StoreError):  # vanished or changed type meanwhile
            failed(entry.rel)
    return entries


def allowed_env(environ):
    """The allow-listed variables of ``environ`` (never secret-looking names)."""
    return {k: environ[k] for k in ENV_ALLOWLIST
            if k in environ and not _SECRET_LOOKING.search(k)}
