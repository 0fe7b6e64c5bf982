"""`repro run` end to end: real Docker, real git, the real lock."""
import subprocess

import pytest

from tests.support import ROOT, check_manifest, manifest, progress_csv, repro, run_id_of

pytestmark = pytest.mark.docker


@pytest.fixture(scope='module')
def home(tmp_path_factory, base_image):
    return tmp_path_factory.mktemp('store')


@pytest.mark.parametrize('example', ['cartpole_cem', 'cartpole_vpg'])
def test_examples_run_in_containers_and_rerun_identically(home, example):
    first = repro('run', f'examples/{example}.py', '--seed', '0', '--', '--n-epochs', '2',
                  home=home)
    second = repro('run', f'examples/{example}.py', '--seed', '0', '--', '--n-epochs', '2',
                   home=home)
    (id1, status1), (id2, status2) = run_id_of(first), run_id_of(second)
    assert status1 == status2 == 'succeeded' and id1 != id2
    m1, m2 = manifest(home, id1), manifest(home, id2)
    for m in (m1, m2):
        check_manifest(home, m)
        assert m['status'] == 'succeeded' and m['exit_code'] == 0
        assert m['seed'] == 0 and m['args'] == ['--n-epochs', '2']
        assert m['network'] is False
        assert m['determinism']['seed'] == 0 and m['determinism']['deterministic'] is True
        assert m['command'][:3] == ['repro', 'run', f'examples/{example}.py']
        assert m['replay'] == ['repro', 'replay', m['run_id']]
    assert 'reusing image' in second.stderr
    assert m1['image'] == m2['image'] and m1['git'] == m2['git']
    assert progress_csv(home, id1).read_bytes() == progress_csv(home, id2).read_bytes()
    head = subprocess.run(['git', '-C', str(ROOT), 'rev-parse', 'HEAD'], capture_output=True,
                          text=True).stdout.strip()
    assert m1['git']['commit'] == head


def test_exit_code_of_the_launcher_is_repros(probe_project, tmp_path):
    home = tmp_path / 'store'
    result = repro('run', 'probe.py', '--', '--exit-code', '3', cwd=probe_project, home=home,
                   check=False)
    assert result.returncode == 3
    run_id, status = run_id_of(result)
    assert status == 'failed' and manifest(home, run_id)['exit_code'] == 3


def test_deleted_image_is_rebuilt_to_the_same_id(engine, home):
    """Bit-reproducible images: delete the image and its cached layers, rebuild."""
    from repro.record.config import load_config
    from repro.images.image import ensure_image, plan_image, remove_cached_layers
    lock = (ROOT / 'requirements.lock').read_bytes()
    plan = plan_image(engine, load_config(str(ROOT)), 'requirements.lock', lock)
    first, _ = ensure_image(engine, plan, progress=lambda m: None)
    engine.remove_image(first)
    remove_cached_layers()
    again, built = ensure_image(engine, plan, progress=lambda m: None)
    assert built and again == first


def test_ignored_launcher_is_refused_before_any_run_dir(probe_project, tmp_path):
    home = tmp_path / 'store'
    (probe_project / '.gitignore').write_text('secret_*.py\n')
    (probe_project / 'secret_train.py').write_text('print(1)\n')
    try:
        result = repro('run', 'secret_train.py', cwd=probe_project, home=home, check=False)
        assert result.returncode == 2
        assert 'not in the source snapshot' in result.stderr
        assert 'Traceback' not in result.stderr
        assert not list(home.glob('runs/*'))
    finally:
        (probe_project / '.gitignore').unlink()
        (probe_project / 'secret_train.py').unlink()
