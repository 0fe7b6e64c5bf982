"""A container engine without a daemon, for tests of run and replay (not fixtures).

:class:`FakeEngine` implements :class:`repro.engines.interface.ContainerEngine`: it
holds a few image IDs and "runs" a container by calling ``behave(call)``
on the host, which writes outputs into the mounted directory and returns
an exit code, or raises what the real engine would.
"""
import dataclasses
import os
import shutil
import subprocess

from repro import contract
BASE_ID = 'sha256:' + '1' * 64
IMAGE_ID = 'sha256:' + 'e' * 64
LAYERS = ['sha256:' + c * 64 for c in 'abc']


@dataclasses.dataclass
class Call:
    """One container the fake ran, as the core asked for it."""
    image: str
    command: list
    env: dict
    mounts: list
    user: str
    network: bool
    workdir: str
    gpus: object
    labels: dict
    hostname: str
    cpuset: object = None

    def mounted(self, target):
        return next(host for host, cont, _mode in self.mounts if cont == target)


class FakeEngine:
    def __init__(self, behave=None, images=(BASE_ID, IMAGE_ID)):
        self.images = set(images)
        self.behave = behave or (lambda call: 0)
        self.calls = []

    def version(self):
        return 'fake-1.0'

    def image_id(self, ref):
        if ref == 'repro-base:bookworm':
            ref = BASE_ID
        return ref if ref in self.images else None

    def repo_digests(self, ref):
        return []

    def image_layers(self, ref):
        return list(LAYERS)

    def save_image(self, ref, out):
        raise AssertionError('the fake engine builds no images')

    def load(self, archive_path):
        raise AssertionError('the fake engine loads no images')

    def load_image(self, config, layer_paths, tag):
        raise AssertionError('the fake engine builds no images')

    def layer_chains(self, label):
        return set()

    def run(self, image, command, *, env=None, mounts=(), user=None, network=False,
            workdir=None, gpus=None, on_output=None, read_only_root=False, labels=None,
            on_start=None, hostname=None, cpuset=None):
        call = Call(image, list(command), dict(env or {}), list(mounts), user, network,
                    workdir, gpus, dict(labels or {}), hostname, cpuset)
        self.calls.append(call)
        if on_start:
            on_start(f'container-{len(self.calls)}')
        code = self.behave(call)
        if on_output:
            on_output(b'hello from the container\n')
        return code, None

    def containers(self, labels):
        return []

    def stop_container(self, container_id):
        return False

    def remove_image(self, ref):
        self.images.discard(ref)


def project(root, launcher='train.py'):
    """A committed git project with a fresh lock (copied from this repository)."""
    repo_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    root.mkdir()
    subprocess.run(['git', 'init', '-q', str(root)], check=True)
    (root / launcher).write_text('print("hi")\n')
    for name in ('requirements.in', 'requirements.lock'):
        shutil.copy(os.path.join(repo_root, name), root)
    return root


def fake_project(tmp_path, monkeypatch, engine=None):
    """A :func:`project` at ``tmp_path/proj`` whose image the fake engine has
    (:func:`remember_image`), with repro's cache under ``tmp_path``, the store
    in the project (no ``REPRO_HOME``) and no reaper process started."""
    from repro.engines import reaper
    monkeypatch.setenv('REPRO_CACHE', str(tmp_path / 'cache'))
    monkeypatch.delenv('REPRO_HOME', raising=False)
    monkeypatch.setattr(reaper, 'spawn', lambda *args: None)
    root = project(tmp_path / 'proj')
    remember_image(engine or FakeEngine(), root)
    return root


def remember_image(engine, root, image_id=IMAGE_ID):
    """Record ``image_id`` as the one repro built for the project's image key,
    so a run reuses it (the fake builds nothing)."""
    from repro.images.image import record_image
    from repro.execute.prepare import plan, read_inputs
    record_image(plan(engine, read_inputs(str(root))).key, image_id)


def write_outputs(files):
    """A ``behave`` that writes ``files`` {name: text} into the outputs, exit 0."""
    def behave(call):
        outputs = call.mounted(contract.OUTPUTS)
        for name, text in files.items():
            with open(os.path.join(outputs, name), 'w') as f:
                f.write(text.format(seed=call.env[contract.ENV_SEED],
                                    args=' '.join(call.command[4:])))
        return 0
    return behave


class PlanEngine:
    """The DockerEngine methods the image code uses, with canned answers."""

    def __init__(self, images=None, repo_digests=None, build_exit=0, output=b''):
        self.images = dict(images or {})
        self._repo_digests = repo_digests or {}
        self.build_exit = build_exit
        self.output = output
        self.loaded = []

    def image_id(self, ref):
        return self.images.get(ref)

    def repo_digests(self, ref):
        return self._repo_digests.get(ref, [])

    def find_image(self, label, value):
        return None

    def save_image(self, ref, out):
        import io
        import json
        import tarfile
        config = json.dumps({'rootfs': {'diff_ids': []}, 'history': []}).encode()
        manifest = json.dumps([{'Config': 'c.json', 'Layers': []}]).encode()
        with tarfile.open(fileobj=out, mode='w') as tar:
            for name, data in (('c.json', config), ('manifest.json', manifest)):
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))

    def run(self, image, command, **kwargs):
        kwargs['on_output'](self.output)
        return self.build_exit, None
