"""Forged attestations, as an attacker with write access to the run store
would leave them: each is refused with one line, never followed, never
waited on, never trusted because of where it came from."""
import json
import os
import shutil

import pytest

from repro.cli import main
from repro.store.manifest import ATTESTATION_NAME
from tests.helpers import make_run, signed_run


@pytest.fixture
def signed(tmp_path, monkeypatch):
    store, run_id, _, public = signed_run(tmp_path / 'store', tmp_path / 'keys')
    monkeypatch.setenv('REPRO_HOME', store.root)
    return store, run_id, os.path.join(store.run_dir(run_id), ATTESTATION_NAME), public


def refused(capsys, code, needle, *args):
    assert main(list(args)) == code
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and 'Traceback' not in err and needle in err, err


def test_a_genuine_attestation_moved_to_another_run_is_a_mismatch(signed, capsys):
    """The signature is good, but it vouches for another run."""
    store, run_id, path, public = signed
    _, other = make_run(store.root)
    shutil.copy(path, os.path.join(store.run_dir(other), ATTESTATION_NAME))
    refused(capsys, 7, 'invocationId: signed', 'verify', other, '--key', public)


def test_a_fifo_is_never_opened_for_reading(signed, capsys):
    _, run_id, path, public = signed
    os.unlink(path)
    os.mkfifo(path)  # opening it for reading would block forever
    refused(capsys, 6, 'is a fifo, not a regular file', 'verify', run_id, '--key', public)
    assert main(['verify', run_id]) == 3
    assert 'attestation.dsse.json is a fifo' in capsys.readouterr().out


def test_a_huge_attestation_is_not_read(signed, capsys):
    _, run_id, path, public = signed
    with open(path, 'r+b') as f:
        f.truncate(64 << 20)  # sparse: costs no disk
    refused(capsys, 6, 'too large to read', 'verify', run_id, '--key', public)


def test_many_signatures_are_refused_before_any_is_checked(signed, capsys):
    _, run_id, path, public = signed
    data = json.load(open(path))
    data['signatures'] = data['signatures'] * 10_000
    json.dump(data, open(path, 'w'))
    refused(capsys, 6, 'at most 16 are checked', 'verify', run_id, '--key', public)


def test_a_link_to_a_genuine_attestation_is_not_followed(signed, tmp_path, capsys):
    store, run_id, path, public = signed
    os.rename(path, tmp_path / 'real.json')
    os.symlink(tmp_path / 'real.json', path)
    refused(capsys, 6, 'without following links', 'verify', run_id, '--key', public)
    refused(capsys, 2, 'without following links', 'export', run_id, '--format', 'dsse')
