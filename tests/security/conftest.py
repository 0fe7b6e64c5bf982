"""Fixtures for the attack tests: a finished run in a store, made without
Docker, that a test then forges the way an attacker would."""
import hashlib
import json
import os
import subprocess

import pytest

from repro.store.manifest import artifacts, render, seal
from repro.store.runs import RunStore

SAMPLE = {
    'format': 1, 'status': 'succeeded',
    'start_time': '2026-11-24T02:10:00+00:00', 'end_time': '2026-11-24T02:11:00+00:00',
    'command': ['repro', 'run', 'train.py', '--seed', '0'], 'seed': 0, 'args': [],
    'launcher': 'train.py', 'exit_code': 0, 'replay_of': None, 'network': False,
    'gpus': None, 'env': {'REPRO_SEED': '0'},
    'git': {'commit': 'a' * 40, 'branch': 'main', 'remote': None, 'dirty': False,
            'tree': 'b' * 40, 'diff_sha256': hashlib.sha256(b'').hexdigest()},
    'lock': {'path': 'requirements.lock', 'sha256': 'd' * 64},
    'image': {'id': 'sha256:' + 'e' * 64, 'key': 'f' * 64, 'base': 'repro-base:bookworm',
              'base_digest': 'sha256:' + '1' * 64, 'dockerfile_sha256': '2' * 64},
    'determinism': {}, 'host': {}, 'repro_version': '0.1.0',
}


class Forger:
    """A project whose store holds one honest run, plus ways to forge it."""

    def __init__(self, root):
        self.root = root
        subprocess.run(['git', 'init', '-q', str(root)], check=True)
        self.store = RunStore.for_project(str(root)).ensure()
        self.run_id = self.store.create_run('train.py', 0)
        self.run_dir = self.store.run_dir(self.run_id)
        for rel, data in {'outputs/progress.csv': b'Epoch,Loss\n0,0.5\n',
                          'logs/stdout.log': b'hi\n', 'meta/source.diff': b''}.items():
            os.makedirs(os.path.dirname(os.path.join(self.run_dir, rel)), exist_ok=True)
            with open(os.path.join(self.run_dir, rel), 'wb') as f:
                f.write(data)
        self.manifest = {**json.loads(json.dumps(SAMPLE)), 'run_id': self.run_id,
                         'replay': ['repro', 'replay', self.run_id],
                         'artifacts': artifacts(self.run_dir)}
        self.store.write_manifest(self.run_id, self.manifest)

    @property
    def manifest_path(self):
        return os.path.join(self.run_dir, 'manifest.json')

    def reseal(self, **changes):
        """Edit fields and re-compute the self-digest, as a forger can."""
        self.manifest.update(changes)
        self.write_text(render(seal(self.manifest)))

    def edit(self, **changes):
        """Edit fields without re-sealing (a careless forger, or bit rot)."""
        with open(self.manifest_path, encoding='utf-8') as f:
            data = json.load(f)
        data.update(changes)
        self.write_text(render(data))

    def write_text(self, text):
        with open(self.manifest_path, 'w', encoding='utf-8') as f:
            f.write(text)


@pytest.fixture
def forger(tmp_path, monkeypatch):
    project = tmp_path / 'project'
    project.mkdir()
    monkeypatch.chdir(project)
    monkeypatch.delenv('REPRO_HOME', raising=False)
    return Forger(project)


@pytest.fixture
def host_secret(tmp_path):
    """A file outside the project that no command may read or write."""
    path = tmp_path / 'outside' / 'secret.json'
    path.parent.mkdir()
    path.write_text('{"format": 1, "secret": "HOST-SECRET-7d1e"}\n')
    return path
