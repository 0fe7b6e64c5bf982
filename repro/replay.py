"""``repro replay RUN_ID``: re-execute a run exactly and prove the outputs match.

1. The recorded inputs are checked before anything runs: every source blob
   and the tree id, the lock and the Dockerfile against the manifest.
2. The recorded image is used if it still exists; otherwise it is rebuilt
   from the recorded inputs and must come out with the recorded ID (the
   builder is bit-reproducible); if not, the differing layer is named.
3. The launcher runs again with the same seed, arguments and flags, into a
   new run whose manifest says ``replay_of``.
4. Outputs are compared (:mod:`repro.compare`): REPRODUCED or DIVERGED with
   the first divergence; numerics-relevant host differences are reported.
"""
import dataclasses
import hashlib
import os

from repro.errors import ReplayError, ReproError, StoreError, VerificationError

LAYER_NAMES = ('base', 'venv', 'repro')


@dataclasses.dataclass
class Verdict:
    """A replay's outcome: the comparison, plus what it cannot show."""
    original: str
    replay: str
    comparison: object   # repro.compare.Comparison
    host_warnings: list
    status: str          # the replay run's own status
    verification: list = dataclasses.field(default_factory=list)  # with --force

    @property
    def reproduced(self):
        return self.comparison.reproduced and not self.verification

    @property
    def divergence(self):
        return self.comparison.first

    @property
    def name(self):
        if self.verification and self.comparison.reproduced:
            return 'UNVERIFIED ORIGINAL'
        return self.comparison.verdict

    def to_json(self):
        """The verdict as a documented JSON object (README: replay --json)."""
        return {'original': self.original, 'replay': self.replay,
                'replay_status': self.status, 'host_warnings': self.host_warnings,
                'verification_problems': self.verification,
                **self.comparison.to_json(), 'verdict': self.name}


def check_inputs(store, manifest):
    """Source files, lock and Dockerfile as recorded; ReplayError naming the file."""
    from repro.safefs import display
    tree = manifest['git']['tree']
    try:
        files = store.get_tree(tree)  # checked against the tree id and the path rules
    except StoreError as exc:
        raise ReplayError(f'cannot replay run {manifest["run_id"]}: {exc.message}') from None
    for path, mode, oid in files:
        if mode == '160000':
            continue
        try:
            for _chunk in store.object_chunks(oid):  # checked against its id as read
                pass
        except FileNotFoundError:
            raise ReplayError(f'source file {display(path)} is missing from the store') \
                from None
        except StoreError:
            raise ReplayError(f'source file {display(path)} in the store does not match '
                              'its hash', 'it was dropped; snapshot again to store it anew') \
                from None
    lock = _object(store, manifest['lock']['sha256'], manifest['lock']['path'])
    dockerfile = _object(store, manifest['image']['dockerfile_sha256'], 'Dockerfile')
    try:
        lock.decode('utf-8')
        return files, lock, dockerfile.decode('utf-8')
    except UnicodeDecodeError:
        raise ReplayError(f'the lock or Dockerfile of run {manifest["run_id"]} in the store '
                          'is not UTF-8 text') from None


def _object(store, sha, name):
    try:
        data = store.read_object(sha)
    except (FileNotFoundError, StoreError):
        raise ReplayError(f'{name} of the run is missing from the store') from None
    if hashlib.sha256(data).hexdigest() != sha:
        raise ReplayError(f'{name} in the store does not match the manifest')
    return data


def numerics_differences(original, replay):
    """Host and library differences that can change numerics (pure)."""
    out = host_differences(original.get('host') or {}, replay.get('host') or {})
    da, db = original.get('determinism') or {}, replay.get('determinism') or {}
    for key, label in (('torch', 'torch'), ('cuda_version', 'CUDA runtime'),
                       ('cudnn_version', 'cuDNN')):
        if da.get(key) != db.get(key):
            out.append(f'{label} differs: {da.get(key)!r} -> {db.get(key)!r}')
    return out


def host_differences(a, b):
    """What differs between two hosts in ways that can change numerics (pure)."""
    out = []
    for label, get in (('CPU model', lambda h: (h.get('cpu') or {}).get('model')),
                       ('CPU flags', lambda h: (h.get('cpu') or {}).get('flags_sha256')),
                       ('GPUs', lambda h: [g.get('name') for g in h.get('gpus') or []]),
                       ('GPU driver', lambda h: [g.get('driver') for g in h.get('gpus') or []]),
                       ('CUDA', lambda h: [g.get('cuda') for g in h.get('gpus') or []]),
                       ('kernel', lambda h: h.get('kernel'))):
        if get(a) != get(b):
            out.append(f'{label} differs: {get(a)!r} -> {get(b)!r}')
    return out


def ensure_recorded_image(engine, manifest, lock, dockerfile, progress):
    """The recorded image ID, rebuilt from the recorded inputs if it was deleted."""
    from repro import dockerfile as df
    from repro.image import ImagePlan, ensure_image, recorded_image
    image = manifest['image']
    # Reused only if repro itself made that ID for that key: a forged
    # manifest cannot point the replay at some other image on this host.
    if image['id'] and recorded_image(engine, image['key']) == image['id']:
        return image['id']
    progress(f'image {str(image["id"])[:19]} is not one repro recorded for key '
             f'{image["key"][:12]}; rebuilding it from the recorded inputs')
    if engine.image_id(image['base_digest']) is None:
        raise ReplayError(f'cannot rebuild: base image {image["base_digest"][:19]} is missing',
                          f'run `repro base` (it rebuilds {image["base"]} to the same digest)')
    files = tuple(df.package_files())
    key = df.image_key(image['base_digest'], lock, dockerfile, df.package_hash(files))
    python = next((p for p in ('3.13', '3.12', '3.11', '3.10') if f'python{p} ' in dockerfile),
                  '3.11')
    plan = ImagePlan(image['base'], image['base_digest'], python, manifest['lock']['path'],
                     lock, dockerfile, files, key)
    rebuilt, _ = ensure_image(engine, plan, progress=progress)
    if rebuilt != image['id']:  # never run an image the manifest does not name
        recorded = image.get('layers') or []
        now = engine.image_layers(rebuilt)
        differing = [i for i in range(max(len(recorded), len(now)))
                     if recorded[i:i + 1] != now[i:i + 1]]
        names = ', '.join(LAYER_NAMES[min(i, 2)] if len(now) == 3 else f'layer {i}'
                          for i in differing) or 'the config'
        hint = ('repro itself changed since the run (its files are part of the image)'
                if key != image['key'] else None)
        raise ReplayError(f'rebuilt image {rebuilt[:19]} is not the recorded '
                          f'{image["id"][:19]}; differing: {names}', hint)
    return rebuilt


def refuse_tracked_store(store):
    """A store that git tracks came from someone else's commit: its runs,
    trees and manifests are not this user's records, so never replay them."""
    import subprocess
    try:
        out = subprocess.run(['git', '-C', os.path.dirname(store.root), 'ls-files', '-z',
                              '--', os.path.basename(store.root)], capture_output=True,
                             timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        return
    if out:
        raise ReplayError(f'the run store {store.root} is tracked by git (committed '
                          '.repro); its runs came from elsewhere and are not replayed',
                          'remove it from git (`git rm -r --cached .repro`) or replay your '
                          'own runs')


def plan_lines(manifest, network):
    """What the replay is about to run, shown before it runs (pure)."""
    from repro.safefs import display
    args = ' '.join(display(a) for a in manifest['args']) or '-'
    return [f'replaying {manifest["run_id"]}: {display(manifest["launcher"])} '
            f'seed={manifest["seed"]} args={args}',
            f'  image {manifest["image"]["id"]}  network {"on" if network else "off"}'
            f'  gpus {manifest.get("gpus") or "none"}']


def verified_original(store, run_id, force=False):
    """(manifest, problems) of the original after the same checks as ``repro
    verify``; a run that fails them is refused unless ``force``."""
    from repro.liveness import status_of
    from repro.manifest_loader import load
    from repro.verify import verify_run
    manifest = load(store, run_id)
    status = status_of(manifest)
    if status == 'stale':
        raise ReplayError(f'run {run_id} never finished: its repro process is gone (stale)',
                          'replay a finished run')
    if status == 'running':
        raise ReplayError(f'run {run_id} is still running or never finished',
                          'wait for it, or replay a finished run')
    problems, _ = verify_run(store, run_id)
    if problems and not force:
        raise VerificationError(f'run {run_id} failed verification ({problems[0]}); '
                                'not replaying it', f'see `repro verify {run_id}`, or '
                                'replay it anyway with --force')
    return manifest, problems


def replay(store, run_ref, rtol=0.0, atol=0.0, progress=print, output=None, engine=None,
           network=False, timing=None, force=False):
    """Replay a run; returns a :class:`Verdict`.

    ``network`` is the user's permission: a run recorded with networking
    is refused without it, and nothing else turns networking on.
    ``timing`` (:class:`repro.timing.TimingRules`) says which metrics are
    wall-clock. ``force`` replays a run that fails verification; the
    verdict then carries the problems.
    """
    from repro import safefs
    from repro.compare import compare_outputs
    from repro.contentcheck import in_image
    from repro.manifest_loader import load
    from repro.run import execute
    from repro.sourcetree import export_files
    run_id = store.resolve(run_ref)
    refuse_tracked_store(store)
    manifest, problems = verified_original(store, run_id, force)
    if manifest.get('network') and not network:
        raise ReplayError(f'run {run_id} ran with networking on; the replay would too',
                          'give `repro replay --network` if you trust it')
    files, lock, dockerfile = check_inputs(store, manifest)
    if engine is None:
        from repro.engine import DockerEngine
        engine = DockerEngine.connect()
    for line in plan_lines(manifest, bool(manifest.get('network'))):
        progress(line)
    image_id = ensure_recorded_image(engine, manifest, lock, dockerfile, progress)
    src = export_files(store, manifest['git']['tree'], files)
    diff = safefs.read_bytes(store.run_dir(run_id), 'meta/source.diff', 1 << 30)
    image_record = {k: v for k, v in manifest['image'].items() if k != 'layers'}
    new_id, status, _code = execute(
        engine, store, launcher_rel=manifest['launcher'], seed=manifest['seed'],
        args=manifest['args'], args_written=manifest.get('args_written'),
        gpus=manifest.get('gpus'),
        network=bool(manifest.get('network')) and network,
        src=src, image_id=image_id, image_record=image_record, git_record=manifest['git'],
        diff=diff, lock=manifest['lock'], replay_of=run_id, output=output,
        progress=progress)
    new = load(store, new_id)
    dir_a, dir_b = store.run_dir(run_id), store.run_dir(new_id)
    try:
        comparison = compare_outputs(
            dir_a, dir_b, rtol, atol, timing=timing,
            content=in_image(engine, image_id, dir_a, dir_b, src=src,
                             launcher=manifest['launcher']),
            hostnames=(manifest.get('hostname'), new.get('hostname')))
    except ReproError as exc:  # never leave a replay that proves nothing looking fine
        new.update(status='failed', error=f'cannot compare the outputs: {exc.message}')
        store.write_manifest(new_id, new)
        raise
    return Verdict(run_id, new_id, comparison, numerics_differences(manifest, new), status,
                   problems)
