import io
import json
import os
import tarfile
import time

from repro.images import oci
from repro.images.base import debian_mirror


def make_tree(root, mtime):
    (root / 'usr' / 'bin').mkdir(parents=True)
    (root / 'usr' / 'bin' / 'tool').write_bytes(b'#!/bin/sh\n')
    os.chmod(root / 'usr' / 'bin' / 'tool', 0o755)
    (root / 'etc').mkdir()
    (root / 'etc' / 'conf').write_text('a=1\n')
    os.symlink('conf', root / 'etc' / 'link')
    (root / 'var' / 'log').mkdir(parents=True)
    (root / 'var' / 'log' / 'dpkg.log').write_text(f'installed at {mtime}\n')
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            os.utime(os.path.join(dirpath, name), (mtime, mtime), follow_symlinks=False)


def test_layer_tar_is_identical_for_identical_content(tmp_path):
    a, b = tmp_path / 'a', tmp_path / 'b'
    make_tree(a, 1000)
    time.sleep(0.01)
    make_tree(b, 2_000_000)
    out_a, out_b = io.BytesIO(), io.BytesIO()
    id_a = oci.layer_tar(str(a), out_a, exclude=('var/log',))
    id_b = oci.layer_tar(str(b), out_b, exclude=('var/log',))
    assert out_a.getvalue() == out_b.getvalue() and id_a == id_b
    with tarfile.open(fileobj=io.BytesIO(out_a.getvalue())) as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert list(members) == sorted(members)  # depth-first sorted order
    assert 'var/log' in members and 'var/log/dpkg.log' not in members
    assert all(m.uid == 0 and m.gid == 0 and m.mtime == 0 for m in members.values())
    assert members['usr/bin/tool'].mode & 0o111 and members['etc/link'].issym()


def test_changed_content_changes_the_layer(tmp_path):
    a = tmp_path / 'a'
    make_tree(a, 0)
    before = oci.layer_tar(str(a), io.BytesIO())
    (a / 'etc' / 'conf').write_text('a=2\n')
    assert oci.layer_tar(str(a), io.BytesIO()) != before


def test_image_id_is_the_config_digest_and_config_is_canonical():
    cfg = oci.image_config(['sha256:' + '0' * 64], env=['A=1'], cmd=['python3'])
    assert cfg == oci.image_config(['sha256:' + '0' * 64], env=['A=1'], cmd=['python3'])
    parsed = json.loads(cfg)
    assert parsed['created'] == '1970-01-01T00:00:00Z'
    assert parsed['rootfs']['diff_ids'] == ['sha256:' + '0' * 64]
    assert oci.image_id(cfg).startswith('sha256:') and len(oci.image_id(cfg)) == 71


def test_docker_archive_layout(tmp_path):
    layer = tmp_path / 'layer.tar'
    layer.write_bytes(b'x' * 1024)
    cfg = oci.image_config(['sha256:' + '1' * 64])
    buf = io.BytesIO()
    oci.docker_archive(cfg, [str(layer)], 'repro-base:test', buf)
    with tarfile.open(fileobj=io.BytesIO(buf.getvalue())) as tar:
        manifest = json.load(tar.extractfile('manifest.json'))
        assert manifest[0]['RepoTags'] == ['repro-base:test']
        assert tar.extractfile(manifest[0]['Config']).read() == cfg
        assert tar.extractfile(manifest[0]['Layers'][0]).read() == b'x' * 1024


def test_debian_mirror_from_apt_sources():
    one_line = 'deb http://mirror.example/debian bookworm main\n' \
               'deb http://security.example/debian-security bookworm-security main\n'
    deb822 = ('Types: deb\nURIs: https://other.example/node\nSuites: nodistro\n\n'
              'Types: deb\nURIs: http://m2.example/debian/\nSuites: bookworm bookworm-updates\n'
              'Components: main\n')
    assert debian_mirror([one_line]) == 'http://mirror.example/debian'
    assert debian_mirror(['# nothing\n', deb822]) == 'http://m2.example/debian'
    assert debian_mirror(['deb [arch=amd64] http://x.example/d trixie main\n']) is None


def test_docker_archive_lists_but_leaves_out_layers_the_engine_holds(tmp_path):
    layer = tmp_path / 'layer.tar'
    layer.write_bytes(b'y' * 512)
    cfg = oci.image_config(['sha256:' + '1' * 64, 'sha256:' + '2' * 64])
    buf = io.BytesIO()
    oci.docker_archive(cfg, [None, str(layer)], 'repro-run:test', buf)
    with tarfile.open(fileobj=io.BytesIO(buf.getvalue())) as tar:
        manifest = json.load(tar.extractfile('manifest.json'))
        first, second = manifest[0]['Layers']
        assert first not in tar.getnames()
        assert tar.extractfile(second).read() == b'y' * 512


GOLDEN = 'sha256:52f914022c775938fb1c4e936808afab2016e9b6ef0c4fd3c54132250221fb08'  # the layer format of every image ever built: it must not change


def test_a_streamed_layer_knows_its_size_first_and_keeps_the_bytes(tmp_path):
    """The layer goes into the engine as it is written, so its size must be
    exact before the first byte: long names, non-UTF-8 names, hard and
    symbolic links. Its bytes must never change (image IDs rebuild)."""
    root = tmp_path / 'root'
    deep = root / 'a' / ('d' * 120) / 'é'
    deep.mkdir(parents=True)
    (deep / ('f' * 150)).write_text('x' * 1000)
    (root / 'a' / 'empty').write_text('')
    os.link(root / 'a' / 'empty', root / 'a' / 'hard')
    os.symlink('../' + 'l' * 130, root / 'a' / 'link')
    (root / 'a' / 'exe').write_text('#!')
    open(os.fsencode(root / 'a') + b'/\xff', 'w').write('bad name')
    for path in [root, *root.rglob('*')]:
        if not path.is_symlink():
            os.chmod(path, 0o755)
    layer = oci.TreeLayer(str(root))
    out = io.BytesIO()
    diff_id = layer.write(out)
    assert layer.size == len(out.getvalue()) == 20480
    assert diff_id == oci.layer_tar(str(root), io.BytesIO()) == layer.diff_id == GOLDEN
    archive = io.BytesIO()
    config = oci.docker_archive(lambda ids: oci.image_config(ids), [None, layer], 't:1', archive)
    assert json.loads(config)['rootfs']['diff_ids'] == [None, diff_id]
    with tarfile.open(fileobj=io.BytesIO(archive.getvalue())) as tar:
        assert tar.extractfile('001/layer.tar').read() == out.getvalue()
