"""Run manifests: format, rendering, artifact hashing, environment filter.

Rendering and hashing are pure functions so that the same run always gives
the same bytes; ``repro/schemas/manifest-v1.schema.json`` is the published
shape (tests validate real manifests against it).
"""
import hashlib
import json
import os
import re
import stat

from repro.errors import StoreError

FORMAT = 1
STATUSES = ('running', 'succeeded', 'failed', 'interrupted')

# Only these variables are recorded; everything else (tokens, keys,
# passwords) never reaches a manifest.
ENV_ALLOWLIST = (
    'REPRO_SEED', 'PYTHONHASHSEED', 'CUBLAS_WORKSPACE_CONFIG', 'REPRO_DETERMINISTIC',
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


def _is_manifest_temp(rel):
    """The atomic writer's temporary manifest, left behind by a SIGKILL."""
    return rel.startswith('.manifest.json.') and rel.endswith('.tmp')


def artifacts(root, exclude=('manifest.json',), unreadable=None):
    """Every regular file under ``root``: relative path, size and sha256, sorted.

    FIFOs, sockets and links are skipped (hashing a FIFO would block). Files
    that cannot be read are left out and, if ``unreadable`` is a list, named
    there.
    """
    excluded = {os.path.normpath(e) for e in exclude}
    entries = []
    for dirpath, dirnames, filenames in os.walk(root, onerror=lambda exc: (
            unreadable.append(os.path.relpath(exc.filename, root))
            if unreadable is not None and exc.filename else None)):
        dirnames.sort()
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, root)
            if os.path.normpath(rel) in excluded or _is_manifest_temp(rel):
                continue
            try:
                st = os.lstat(path)
                if not stat.S_ISREG(st.st_mode):
                    continue
                entries.append({'path': rel.replace(os.sep, '/'), 'size': st.st_size,
                                'sha256': sha256_file(path)})
            except OSError:
                if unreadable is not None:
                    unreadable.append(rel.replace(os.sep, '/'))
    return sorted(entries, key=lambda e: e['path'])


def allowed_env(environ):
    """The allow-listed variables of ``environ`` (never secret-looking names)."""
    return {k: environ[k] for k in ENV_ALLOWLIST
            if k in environ and not _SECRET_LOOKING.search(k)}
