"""The run image as data: what determines it, computed without building.

A plan comes from the installed repro when a run starts (:func:`plan_image`)
and from the run store when a replay must rebuild a deleted image
(:func:`rebuild_plan`): then the runtime closure is the one the run kept
(:func:`keep_inputs`), not the installed one, so the replay survives an
upgrade of repro.
"""
import dataclasses
import hashlib
import re

from repro.images import closure as rc
from repro.images import dockerfile as df
from repro.errors import BaseImageError, ReplayError


@dataclasses.dataclass(frozen=True)
class ImagePlan:
    """Everything that determines the image."""

    base: str
    base_digest: str
    python: str
    lock_name: str
    lock_bytes: bytes
    dockerfile: str
    closure: tuple  # (path under repro/, bytes) of the runtime closure
    key: str

    @property
    def dockerfile_sha256(self):
        return hashlib.sha256(self.dockerfile.encode()).hexdigest()

    @property
    def closure_id(self):
        return rc.closure_id(self.closure)

    @property
    def tag(self):
        return f'repro-run:{self.key[:16]}'

    def record(self, image_id):
        """The manifest's ``image`` section."""
        return {'id': image_id, 'key': self.key, 'base': self.base,
                'base_digest': self.base_digest, 'dockerfile_sha256': self.dockerfile_sha256,
                'closure': self.closure_id, 'python': self.python, 'repo_digest': None}


def base_digest(engine, base):
    """The digest that pins ``base``: its repo digest, or its content-derived ID."""
    image_id = engine.image_id(base)
    if image_id is None:
        raise BaseImageError(f'base image {base} not found',
                             'run `repro base` (or pull it where a registry is reachable)')
    if '/' in base.split(':')[0] or '@' in base:  # a registry reference
        digests = engine.repo_digests(base)
        if not digests:
            raise BaseImageError(f'base image {base} is not pinned to a registry digest',
                                 'pull it by digest, or use `repro base`')
        return digests[0].split('@', 1)[1]
    return image_id


def plan_image(engine, config, lock_name, lock_bytes):
    """Resolve the base and compute the key (no build)."""
    digest = base_digest(engine, config.base)
    text = df.render_dockerfile(df.read_template(config.template), config.base,
                                config.python, lock_name, config.env)
    files = rc.runtime_files()
    key = df.image_key(digest, lock_bytes, text, rc.closure_id(files))
    return ImagePlan(config.base, digest, config.python, lock_name, lock_bytes, text,
                     files, key)


def keep_inputs(store, plan):
    """Keep what a replay needs to rebuild the image, by content: the lock,
    the Dockerfile and the runtime closure. Returns the ids of those objects."""
    lock = hashlib.sha256(plan.lock_bytes).hexdigest()
    store.put_object(lock, plan.lock_bytes)
    store.put_object(plan.dockerfile_sha256, plan.dockerfile.encode())
    closure = rc.keep(store, plan.closure)
    return [lock, plan.dockerfile_sha256, closure,
            *(hashlib.sha256(data).hexdigest() for _rel, data in plan.closure)]


def rebuild_plan(store, manifest, lock_bytes, dockerfile):
    """The plan of a recorded image, from the run store alone.

    ``lock_bytes`` and ``dockerfile`` must be the run's (checked by the
    caller against the manifest). The key is the recorded one, not
    recomputed: it is a label in the image config, so a newer key formula
    must not change the rebuilt ID; the caller's check that the rebuilt ID
    is the recorded one is the proof of every input.
    """
    image = manifest['image']
    closure_oid, python = image.get('closure'), image.get('python')
    if not (isinstance(closure_oid, str) and isinstance(python, str)
            and re.fullmatch(r'\d+\.\d+', python)):
        raise ReplayError(f'run {manifest["run_id"]} records no runtime closure (made by an '
                          'older repro); its image cannot be rebuilt',
                          'replay it where its image still exists')
    return ImagePlan(image['base'], image['base_digest'], python, manifest['lock']['path'],
                     lock_bytes, dockerfile, rc.load(store, closure_oid), image['key'])
