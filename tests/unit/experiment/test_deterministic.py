import os
import random

import numpy as np
import pytest

from repro.experiment import deterministic
from tests.conftest import ROOT


def draws():
    out = [random.random(), float(np.random.random())]
    torch = pytest.importorskip('torch')
    out.append(float(torch.rand(())))
    return out


def test_same_seed_same_draws_and_different_seed_differs():
    deterministic.set_seed(7)
    a = draws()
    deterministic.set_seed(7)
    assert draws() == a
    deterministic.set_seed(8)
    b = draws()
    assert all(x != y for x, y in zip(a, b))


def test_get_seed_and_record():
    assert deterministic.get_seed() is None
    record = deterministic.set_seed(2 ** 32 + 5)
    assert deterministic.get_seed() == 5 and record['seed'] == 5
    assert record == deterministic.get_determinism_record()
    assert os.environ['CUBLAS_WORKSPACE_CONFIG'] == ':4096:8'


def test_torch_flags_on_by_default_and_can_be_turned_off():
    torch = pytest.importorskip('torch')
    record = deterministic.set_seed(0)
    assert torch.backends.cudnn.deterministic is True
    assert torch.backends.cudnn.benchmark is False
    assert torch.are_deterministic_algorithms_enabled()
    assert record['torch_deterministic_algorithms'] is True
    try:
        record = deterministic.set_seed(0, deterministic=False)
        assert not torch.are_deterministic_algorithms_enabled()
        assert torch.backends.cudnn.deterministic is False
        assert record['deterministic'] is False
    finally:
        deterministic.set_seed(0)


@pytest.mark.parametrize('bad', ['1', 1.5, None, True])
def test_seed_must_be_an_int(bad):
    with pytest.raises(TypeError):
        deterministic.set_seed(bad)


def test_rng_state_round_trip():
    deterministic.set_seed(3)
    state = deterministic.get_rng_state()
    a = draws()
    deterministic.set_rng_state(state)
    assert draws() == a


def test_isolated_rng_leaves_globals_alone_and_advances_its_own_stream():
    deterministic.set_seed(1)
    outer_expected = draws()
    deterministic.set_seed(1)
    inner = deterministic.seeded_rng_state(99)
    with deterministic.isolated_rng(inner) as scope:
        first = draws()
    with deterministic.isolated_rng(scope.state):
        second = draws()
    assert draws() == outer_expected  # the globals never moved
    deterministic.set_seed(99)
    assert draws() == first and draws() == second


def test_derive_seed_separates_components():
    seeds = {deterministic.derive_seed(s, w) for s in range(4) for w in range(4)}
    assert len(seeds) == 16
    assert deterministic.derive_seed(0, 1) == deterministic.derive_seed(0, 1)


def test_torch_is_seeded_when_imported_after_set_seed(tmp_path):
    """set_seed does not import torch; importing it later seeds it at once."""
    import subprocess
    import sys
    code = ('import sys; from repro.experiment import deterministic as d\n'
            'r = d.set_seed(3)\n'
            'assert "torch" not in sys.modules and r["torch"] == "seeded when imported"\n'
            'import torch\n'
            'a = torch.rand(3).tolist()\n'
            'torch.manual_seed(3); assert torch.rand(3).tolist() == a\n'
            'rec = d.get_determinism_record()\n'
            'assert rec["torch_deterministic_algorithms"] is True, rec\n'
            'assert torch.are_deterministic_algorithms_enabled()\n'
            'print("OK")\n')
    pytest.importorskip('torch')
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                            cwd=tmp_path)
    assert result.stdout.strip() == 'OK', result.stderr


def test_numpy_is_seeded_when_imported_after_set_seed(tmp_path):
    """set_seed does not import numpy (a trivial run's container would pay for
    it); importing it later seeds its global generator before any draw, and
    ``python -m repro.runtime`` leaves it unimported for a script that never uses it."""
    import subprocess
    import sys
    code = ('import sys; from repro.experiment import deterministic as d\n'
            'd.set_seed(5); d.set_seed(7)\n'
            'assert "numpy" not in sys.modules\n'
            'import numpy as np\n'
            'a = np.random.random(3).tolist()\n'
            'np.random.seed(7); assert np.random.random(3).tolist() == a\n'
            'd.set_seed(np.int64(2)); b = np.random.random(2).tolist()\n'
            'np.random.seed(2); assert np.random.random(2).tolist() == b\n'
            'print("OK")\n')
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                            cwd=tmp_path)
    assert result.stdout.strip() == 'OK', result.stderr
    script = tmp_path / 'plain.py'
    script.write_text('import sys; print("numpy" in sys.modules)\n')
    result = subprocess.run([sys.executable, '-m', 'repro.runtime', str(script)],
                            capture_output=True, text=True, cwd=tmp_path,
                            env={'PATH': '/usr/bin:/bin', 'REPRO_SEED': '1',
                                 'PYTHONPATH': str(ROOT)})
    assert result.stdout.strip() == 'False', result.stderr
