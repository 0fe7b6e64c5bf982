"""SIGKILL while repro writes a manifest or a pack: readers never see half.

A child process rewrites one run's manifest (growing each time) and adds
packs in a loop; it is killed at random moments. After every kill the
manifest parses, passes its integrity check and is one of the versions
written, no pack counts without its whole content, and verify ignores the
temporary file the kill left behind.
"""
import json
import os
import random
import signal
import subprocess
import sys
import time

from repro.record.gitsource import blob_id
from repro.store.runs import RunStore
from repro.audit.verify import manifest_problems, verify_run
from tests.support import ROOT
from tests.helpers import example_manifest, wait_for

WRITER = r'''
import hashlib, itertools, os, sys
sys.path.insert(0, sys.argv[3])
from repro.record.gitsource import blob_id
from repro.store.runs import RunStore
from tests.helpers import example_manifest
store, run_id = RunStore(sys.argv[1]), sys.argv[2]
base = example_manifest()
base['git']['diff_sha256'] = hashlib.sha256(b'').hexdigest()  # meta/source.diff is empty
for n in itertools.count(1):
    base.update(run_id=run_id, exit_code=n, args=['x' * 1000] * (n % 50), artifacts=[
        {'path': 'meta/source.diff', 'size': 0, 'sha256': hashlib.sha256(b'').hexdigest()}])
    store.write_manifest(run_id, base)
    blobs = [os.urandom(4096) for _ in range(20)]
    store.put_pack([(blob_id(b), b) for b in blobs])
'''


def test_sigkill_mid_write_never_leaves_a_half_written_manifest_or_pack(tmp_path):
    store = RunStore(tmp_path / 'store')
    run_id = store.create_run('train.py', 0)
    manifest = example_manifest()
    manifest.update(run_id=run_id, artifacts=[])
    store.write_manifest(run_id, manifest)
    os.makedirs(os.path.join(store.run_dir(run_id), 'meta'))
    open(os.path.join(store.run_dir(run_id), 'meta', 'source.diff'), 'wb').close()
    rng = random.Random(7)
    for kill in range(15):
        before = os.stat(store.manifest_path(run_id)).st_ino
        child = subprocess.Popen([sys.executable, '-c', WRITER, store.root, run_id,
                                  str(ROOT)])
        # Kill it while it writes, not while it starts (slow on a busy machine):
        # the first rename of its manifest says it has begun.
        wait_for(lambda: os.stat(store.manifest_path(run_id)).st_ino != before,
                 'the writer to write', timeout=60, every=0.01)
        time.sleep(0.05 + rng.random() * 0.25)
        child.send_signal(signal.SIGKILL)
        child.wait()
        with open(store.manifest_path(run_id), encoding='utf-8', newline='') as f:
            text = f.read()
        problems, data = manifest_problems(text)
        assert problems == [], f'kill {kill}: {problems}'
        assert data['run_id'] == run_id and len(data['args']) == data['exit_code'] % 50
        assert verify_run(store, run_id)[0] == []  # temp files left by the kill ignored
        fresh = RunStore(store.root)
        newest = sorted(n for n in os.listdir(fresh.packs_dir) if n.endswith('.idx'))[-3:]
        for name in newest:  # the packs written around the kill
            entries = json.load(open(os.path.join(fresh.packs_dir, name)))
            for oid in entries:
                assert blob_id(fresh.read_object(oid)) == oid
