"""``repro replay RUN_ID``: re-execute a run exactly and prove the outputs match.

1. The recorded inputs are checked before anything runs: every source blob
   and the tree id, the lock and the Dockerfile against the manifest.
2. The recorded image is used if it still exists; otherwise it is rebuilt
   from the recorded inputs and must come out with the recorded ID (the
   builder is bit-reproducible); if not, the differing layer is named.
3. The launcher runs again with the same seed, arguments and flags, into a
   new run whose manifest says ``replay_of``.
4. Outputs are compared (:mod:`repro.audit.compare`): REPRODUCED or DIVERGED with
   the first divergence; numerics-relevant host differences are reported.
   The verdict goes into the replay's manifest (``replay_verdict``).
"""
import dataclasses
import os

from repro.errors import ReplayError, ReproError, VerificationError
from repro.core.safefs import display
from repro.execute.recorded import (check_inputs, ensure_recorded_image, recorded_run,
                             recorded_spec)


@dataclasses.dataclass
class Verdict:
    """A replay's outcome: the comparison, plus what it cannot show."""
    original: str
    replay: str
    comparison: object   # repro.audit.compare.Comparison
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
    args = ' '.join(display(a) for a in manifest['args']) or '-'
    return [f'replaying {manifest["run_id"]}: {display(manifest["launcher"])} '
            f'seed={manifest["seed"]} args={args}',
            f'  image {manifest["image"]["id"]}  network {"on" if network else "off"}'
            f'  gpus {manifest.get("gpus") or "none"}']


def verified_original(store, run_id, force=False):
    """(manifest, problems) of the original after the same checks as ``repro
    verify``; a run that fails them is refused unless ``force``."""
    from repro.engines.liveness import status_of
    from repro.store.manifest_loader import load
    from repro.audit.verify import verify_run
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


def replay(store, run_ref, *, connect, rtol=0.0, atol=0.0, progress=print, output=None,
           network=False, timing=None, force=False):
    """Replay a run; returns a :class:`Verdict`.

    ``connect()`` returns the container engine, asked for once the run and
    its inputs passed their checks. ``network`` is the user's permission: a
    run recorded with networking is refused without it, and nothing else
    turns networking on. ``timing`` (:class:`repro.core.timing.TimingRules`) says
    which metrics are wall-clock. ``force`` replays a run that fails
    verification; the verdict then carries the problems.
    """
    from repro.audit.compare import compare_outputs
    from repro.contentcheck import in_image
    from repro.execute.container import execute
    from repro.store.manifest_loader import load
    from repro.execute.runspec import RunIO
    run_id = store.resolve(run_ref)
    refuse_tracked_store(store)
    manifest, problems = verified_original(store, run_id, force)
    if manifest.get('resumed_from'):  # its outputs are an input of the run: check them too
        problems += verified_original(store, manifest['resumed_from'], force)[1]
    if manifest.get('network') and not network:
        raise ReplayError(f'run {run_id} ran with networking on; the replay would too',
                          'give `repro replay --network` if you trust it')
    files, lock, dockerfile = check_inputs(store, manifest)
    engine = connect()
    for line in plan_lines(manifest, bool(manifest.get('network'))):
        progress(line)
    image_id = ensure_recorded_image(engine, store, manifest, lock, dockerfile, progress)
    prepared = recorded_run(store, engine, manifest, files, lock, image_id)
    new_id, status, _code = execute(engine, store, recorded_spec(manifest, network), prepared,
                                    RunIO(output, progress))
    new = load(store, new_id)
    dir_a, dir_b = store.run_dir(run_id), store.run_dir(new_id)
    try:
        comparison = compare_outputs(
            dir_a, dir_b, rtol, atol, timing=timing,
            content=in_image(engine, image_id, dir_a, dir_b, src=prepared.src,
                             launcher=manifest['launcher']),
            hostnames=(manifest.get('hostname'), new.get('hostname')))
    except Exception as exc:  # never leave a replay that proves nothing looking fine
        reason = exc.message if isinstance(exc, ReproError) else \
            f'{type(exc).__name__}: {display(str(exc))[:200]}'
        new.update(status='failed', error=f'cannot compare the outputs: {reason}')
        store.write_manifest(new_id, new)
        if isinstance(exc, ReproError):
            raise
        raise ReplayError(f'cannot compare the outputs of {new_id}: {reason}') from None
    verdict = Verdict(run_id, new_id, comparison, numerics_differences(manifest, new), status,
                      problems)
    # The replay's own record says what it proved, so a signed replay vouches
    # for its verdict (an audit policy's require_replayed reads it).
    new['replay_verdict'] = verdict.name
    store.write_manifest(new_id, new)
    return verdict
