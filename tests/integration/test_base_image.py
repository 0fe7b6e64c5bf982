"""The base image made by `repro base`: pinned by content, runs Python offline."""
import docker
import pytest

from repro.images import oci
pytestmark = pytest.mark.docker


def test_base_image_id_is_its_config_digest(engine, base_image):
    tag, image_id = base_image
    image = docker.from_env().images.get(tag)
    # A loaded (not built) image: fixed creation time, one normalised layer.
    assert image.attrs['Created'].startswith('1970-01-01')
    assert len(image.attrs['RootFS']['Layers']) == 1
    assert image.id == image_id


def test_base_image_runs_python_without_network(engine, base_image):
    tag, _ = base_image
    out = docker.from_env().containers.run(
        tag, ['python3', '-c', 'import sys, venv; print(sys.version_info[:2])'],
        remove=True, network_disabled=True, user='65534:65534')
    assert out.decode().strip() == '(3, 11)'


def test_reloading_the_same_layer_gives_the_same_id(engine, base_image, tmp_path):
    """Deleting and re-deriving an image from the same files restores its ID."""
    client = docker.from_env()
    tag, image_id = base_image
    layer = tmp_path / 'layer.tar'
    with open(layer, 'wb') as f:
        for chunk in client.images.get(tag).save():
            f.write(chunk)
    # Export the base filesystem through a container and rebuild an image from it.
    container = client.containers.create(tag, ['true'])
    try:
        rootfs = tmp_path / 'rootfs.tar'
        with open(rootfs, 'wb') as f:
            for chunk in container.export():
                f.write(chunk)
    finally:
        container.remove()
    import tarfile
    extracted = tmp_path / 'fs'
    with tarfile.open(rootfs) as tar:
        tar.extractall(extracted, filter='tar')
    from repro.images.base import ENV, VOLATILE
    ids = []
    for i in range(2):
        with open(tmp_path / f'l{i}.tar', 'wb') as f:
            diff = oci.layer_tar(str(extracted), f, exclude=VOLATILE)
        config = oci.image_config([diff], env=ENV, cmd=['python3'])
        with open(tmp_path / f'i{i}.tar', 'wb') as f:
            oci.docker_archive(config, [str(tmp_path / f'l{i}.tar')], f'repro-test:re{i}', f)
        ids.append(engine.load(str(tmp_path / f'i{i}.tar'))[0])
        assert ids[-1] == oci.image_id(config)
    try:
        assert ids[0] == ids[1]
        engine.remove_image('repro-test:re0')
        assert engine.load(str(tmp_path / 'i0.tar'))[0] == ids[0]
    finally:
        engine.remove_image('repro-test:re0')
        engine.remove_image('repro-test:re1')


@pytest.mark.slow
def test_an_independent_repro_base_gives_the_same_image_id(engine, base_image):
    """Two debootstraps of the same packages: identical layer, identical ID."""
    from repro.images.base import build_base
    tag, image_id = base_image
    again = build_base(engine, tag='repro-test:base-again', progress=lambda msg: None)
    try:
        assert again == image_id
    finally:
        engine.remove_image('repro-test:base-again')
