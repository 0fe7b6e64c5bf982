"""Integration tests drive the real Docker Engine; they skip without one."""
import pytest


@pytest.fixture(scope='session')
def engine():
    from repro.engine import DockerEngine
    from repro.errors import EngineError
    try:
        return DockerEngine.connect()
    except EngineError as exc:
        pytest.skip(f'no Docker Engine: {exc}')


@pytest.fixture(scope='session')
def base_image(engine):
    """The image `repro base` made (.ci/run makes it before the tests)."""
    from repro.base import TAG
    image_id = engine.image_id(TAG)
    if image_id is None:
        pytest.skip(f'base image {TAG} missing: run `repro base` first')
    return TAG, image_id
