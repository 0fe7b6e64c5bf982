"""Image planning and build failures against a fake engine (no Docker)."""
import pytest

from repro.record.config import ImageConfig
from repro.errors import BaseImageError, BuildError
from repro.images.image import base_digest, ensure_image, plan_image
from tests.fakes import PlanEngine as FakeEngine


LOCK = b'# repro-lock-input-sha256: x\n'


def test_missing_base_image_says_how_to_make_it():
    with pytest.raises(BaseImageError, match='not found.*repro base'):
        base_digest(FakeEngine(), 'repro-base:bookworm')


def test_registry_base_must_be_pinned_by_digest():
    engine = FakeEngine(images={'ghcr.io/o/py:3.11': 'sha256:' + 'a' * 64})
    with pytest.raises(BaseImageError, match='not pinned'):
        base_digest(engine, 'ghcr.io/o/py:3.11')
    engine._repo_digests['ghcr.io/o/py:3.11'] = ['ghcr.io/o/py@sha256:' + 'b' * 64]
    assert base_digest(engine, 'ghcr.io/o/py:3.11') == 'sha256:' + 'b' * 64


def test_key_changes_with_each_input():
    engine = FakeEngine(images={'repro-base:bookworm': 'sha256:' + '1' * 64,
                                'other:1': 'sha256:' + '2' * 64})
    plan = plan_image(engine, ImageConfig(), 'requirements.lock', LOCK)
    assert plan_image(engine, ImageConfig(), 'requirements.lock', LOCK).key == plan.key
    assert plan_image(engine, ImageConfig(), 'requirements.lock', LOCK + b'x').key != plan.key
    assert plan_image(engine, ImageConfig(base='other:1'), 'requirements.lock',
                      LOCK).key != plan.key
    assert plan_image(engine, ImageConfig(env=(('A', '1'),)), 'requirements.lock',
                      LOCK).key != plan.key


def test_build_failure_names_the_step_and_the_last_line(tmp_path, monkeypatch):
    import repro.images.image as image
    engine = FakeEngine(images={'repro-base:bookworm': 'sha256:' + '1' * 64}, build_exit=1,
                        output=b'Collecting numpy\nERROR: THESE PACKAGES DO NOT MATCH THE HASHES\n')
    monkeypatch.setattr(image.Wheelhouse, 'ensure', lambda self, text, progress: ([], 0))
    plan = plan_image(engine, ImageConfig(), 'requirements.lock', LOCK)
    with pytest.raises(BuildError, match='pip install -r requirements.lock.*DO NOT MATCH'):
        ensure_image(engine, plan, cache=str(tmp_path), progress=lambda m: None)
    assert not list((tmp_path / 'layers').glob('venv-*'))  # nothing half-written


def test_images_are_reused_by_recorded_id_never_by_label(tmp_path, monkeypatch):
    """An image built FROM ours inherits the key label; it must not be used."""
    import repro.images.image as image

    class Engine(FakeEngine):
        def find_image(self, label, value):  # a derived image carrying our label
            return 'sha256:' + 'd' * 64
    engine = Engine(images={'repro-base:bookworm': 'sha256:' + '1' * 64,
                            'sha256:' + 'd' * 64: 'sha256:' + 'd' * 64})
    built = []

    def build(engine, plan, cache, progress, guard):
        built.append(plan.key)
        engine.images['sha256:' + 'b' * 64] = 'sha256:' + 'b' * 64
        return 'sha256:' + 'b' * 64
    monkeypatch.setattr(image, '_build', build)
    plan = plan_image(engine, ImageConfig(), 'requirements.lock', LOCK)
    first = ensure_image(engine, plan, cache=str(tmp_path), progress=lambda m: None)
    assert first == ('sha256:' + 'b' * 64, True)
    again = ensure_image(engine, plan, cache=str(tmp_path), progress=lambda m: None)
    assert again == ('sha256:' + 'b' * 64, False) and len(built) == 1
    del engine.images['sha256:' + 'b' * 64]  # deleted: rebuilt, never the labelled one
    assert ensure_image(engine, plan, cache=str(tmp_path), progress=lambda m: None)[1]


def _manifest(plan, image_id='sha256:' + 'e' * 64):
    return {'run_id': 'r1', 'lock': {'path': plan.lock_name},
            'image': {**plan.record(image_id), 'layers': []}}


def test_record_names_the_closure_and_python():
    from repro.images import closure
    engine = FakeEngine(images={'repro-base:bookworm': 'sha256:' + '1' * 64})
    record = plan_image(engine, ImageConfig(), 'requirements.lock', LOCK).record('x')
    assert record['closure'] == closure.closure_id(closure.runtime_files())
    assert record['python'] == ImageConfig().python


def test_rebuild_plan_uses_the_stored_closure_not_the_installed_one(tmp_path, monkeypatch):
    """After an upgrade the installed closure differs; the replay's plan must not."""
    from repro.images import closure
    from repro.images.image import keep_inputs, rebuild_plan
    from repro.store.runs import RunStore
    engine = FakeEngine(images={'repro-base:bookworm': 'sha256:' + '1' * 64})
    store = RunStore(str(tmp_path / 'store')).ensure()
    plan = plan_image(engine, ImageConfig(), 'requirements.lock', LOCK)
    keep_inputs(store, plan)
    upgraded = tuple((rel, data + b'# upgraded\n') for rel, data in plan.closure)
    monkeypatch.setattr(closure, 'runtime_files', lambda: upgraded)
    assert plan_image(engine, ImageConfig(), 'requirements.lock', LOCK).key != plan.key
    assert rebuild_plan(store, _manifest(plan), LOCK, plan.dockerfile) == plan


def test_rebuild_plan_refuses_a_run_without_a_stored_closure(tmp_path):
    from repro.errors import ReplayError, StoreError
    from repro.images.image import rebuild_plan
    from repro.store.runs import RunStore
    engine = FakeEngine(images={'repro-base:bookworm': 'sha256:' + '1' * 64})
    store = RunStore(str(tmp_path / 'store')).ensure()
    plan = plan_image(engine, ImageConfig(), 'requirements.lock', LOCK)
    with pytest.raises(StoreError, match='runtime closure .* missing'):
        rebuild_plan(store, _manifest(plan), LOCK, plan.dockerfile)  # never kept
    old = _manifest(plan)
    del old['image']['closure']
    with pytest.raises(ReplayError, match='older repro'):
        rebuild_plan(store, old, LOCK, plan.dockerfile)


def test_image_holds_the_closure_and_its_version_file_only(tmp_path):
    import tarfile

    import repro.images.image as image
    from repro.images import closure, oci
    engine = FakeEngine(images={'repro-base:bookworm': 'sha256:' + '1' * 64})
    plan = plan_image(engine, ImageConfig(), 'requirements.lock', LOCK)
    layer = tmp_path / 'repro.tar'
    with open(layer, 'wb') as f:
        oci.TreeLayer(image._repro_root(plan, str(tmp_path))).write(f)
    prefix = f'opt/venv/lib/python{plan.python}/site-packages/repro/'
    with tarfile.open(layer) as tar:
        names = {n[len(prefix):] for n in tar.getnames() if n.startswith(prefix)}
        version = tar.extractfile(prefix + '_version.py').read().decode()
    assert {n for n in names if n.endswith('.py')} == \
        {rel for rel, _ in plan.closure} | {'_version.py'}
    assert closure.closure_id(plan.closure)[:12] in version
