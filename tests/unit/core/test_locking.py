import pytest

from repro.errors import LockError
from repro.locking import check_lock, compile_lock, input_sha256, lock_inputs


def test_inputs_from_requirements_in_or_pyproject(tmp_path):
    (tmp_path / 'pyproject.toml').write_text('[project]\nname="x"\ndependencies=["numpy>=1", "six"]\n')
    assert lock_inputs(str(tmp_path)) == ('pyproject.toml [project.dependencies]', 'numpy>=1\nsix\n')
    (tmp_path / 'requirements.in').write_text('cloudpickle\n')
    assert lock_inputs(str(tmp_path)) == ('requirements.in', 'cloudpickle\n')


def test_no_inputs_is_a_clear_error(tmp_path):
    with pytest.raises(LockError, match='requirements.in'):
        lock_inputs(str(tmp_path))


def test_missing_and_stale_locks(tmp_path):
    (tmp_path / 'requirements.in').write_text('six\n')
    with pytest.raises(LockError, match='missing.*repro lock'):
        check_lock(str(tmp_path))
    digest = input_sha256('six\n')
    (tmp_path / 'requirements.lock').write_text(
        f'# repro-lock-input-sha256: {digest}\nsix==1.16.0\nnumpy==2.0\ncloudpickle==3.0\n')
    assert check_lock(str(tmp_path))[1].endswith(b'cloudpickle==3.0\n')
    (tmp_path / 'requirements.in').write_text('six\nnumpy\n')
    with pytest.raises(LockError, match='stale'):
        check_lock(str(tmp_path))


@pytest.mark.network
def test_real_pip_compile_writes_a_hashed_machine_independent_lock(tmp_path):
    (tmp_path / 'requirements.in').write_text('cloudpickle==3.1.2\n')
    path = compile_lock(str(tmp_path))
    text = open(path).read()
    assert 'cloudpickle==3.1.2' in text and '--hash=sha256:' in text
    for local in ('file:', '--find-links', '--index-url', '--extra-index-url', str(tmp_path),
                  '/tmp', '/opt'):
        assert local not in text, local
    check_lock(str(tmp_path))  # fresh: no error
