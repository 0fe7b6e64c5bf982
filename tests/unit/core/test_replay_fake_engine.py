"""``repro replay`` end to end against a fake engine: what it re-runs and compares."""
import io

import pytest

from repro import contract
from repro.errors import ReplayError
from repro.store.manifest_loader import load
from repro.audit.replay import replay
from repro.execute.run import run
from repro.store.runs import RunStore
from tests.fakes import IMAGE_ID, FakeEngine, fake_project, write_outputs


@pytest.fixture
def recorded(tmp_path, monkeypatch):
    """(store, run id, engine): a finished run of a launcher that writes a CSV
    of its seed and arguments, as a deterministic launcher would."""
    engine = FakeEngine(write_outputs({'progress.csv': 'seed,args\n{seed},{args}\n'}))
    root = fake_project(tmp_path, monkeypatch, engine)
    result = run(str(root / 'train.py'), connect=lambda: engine, seed=5,
                 args=['--lr', '0.1'], progress=lambda m: None, output=io.BytesIO())
    assert result.status == 'succeeded'
    return RunStore.for_project(str(root)), result.run_id, engine


def replay_with(store, run_id, engine, **kwargs):
    lines = []
    verdict = replay(store, run_id, connect=lambda: engine, progress=lines.append,
                     output=io.BytesIO(), **kwargs)
    return verdict, lines


def test_a_replay_reruns_the_recorded_seed_and_arguments(recorded):
    store, run_id, engine = recorded
    verdict, lines = replay_with(store, run_id, engine)
    original, again = engine.calls
    assert again.command == original.command and again.image == IMAGE_ID
    assert again.env[contract.ENV_SEED] == '5' and again.hostname == contract.HOSTNAME
    assert again.env[contract.ENV_RUN_ID] == verdict.replay != run_id
    assert lines[0].startswith(f'replaying {run_id}: train.py seed=5 args=--lr 0.1')
    assert verdict.name == 'REPRODUCED' and verdict.comparison.compared >= 1
    manifest = load(store, verdict.replay)
    assert manifest['replay_of'] == run_id and manifest['status'] == verdict.status
    assert manifest['git'] == load(store, run_id)['git']


def test_different_outputs_are_a_divergence_naming_the_file(recorded):
    store, run_id, engine = recorded
    engine.behave = write_outputs({'progress.csv': 'seed,args\n6,{args}\n'})
    verdict, _ = replay_with(store, run_id, engine)
    assert verdict.name == 'DIVERGED' and verdict.divergence.path.endswith('progress.csv')
    assert (verdict.divergence.original, verdict.divergence.replay) == ('5', '6')


def test_an_image_repro_did_not_record_is_not_run(recorded, monkeypatch):
    """The recorded ID is not in repro's records: rebuilt, never trusted."""
    import repro.images.image
    store, run_id, engine = recorded
    monkeypatch.setenv('REPRO_CACHE', str(store.root) + '-other-cache')
    monkeypatch.setattr(repro.images.image, 'ensure_image',
                        lambda engine, plan, progress, guard: ('sha256:' + '9' * 64, True))
    with pytest.raises(ReplayError, match='is not the recorded'):
        replay_with(store, run_id, engine)
    assert len(engine.calls) == 1  # only the original ran


def test_cli_replay_uses_the_one_engine_connection(recorded, monkeypatch, capsys):
    from repro.cli import main
    store, run_id, engine = recorded
    monkeypatch.setattr('repro.engines.interface.connect_engine', lambda: engine)
    monkeypatch.setenv('REPRO_HOME', store.root)
    assert main(['replay', run_id]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith('REPRODUCED')
    assert len(engine.calls) == 2
