import re

import pytest

from repro.errors import LockError
from repro.cli import main
from repro.record.locking import (check_lock, check_portable, compile_command, compile_lock,
                           input_sha256, lock_inputs)


def test_inputs_from_requirements_in_or_pyproject(tmp_path):
    (tmp_path / 'pyproject.toml').write_text('[project]\nname="x"\ndependencies=["numpy>=1", "six"]\n')
    assert lock_inputs(str(tmp_path)) == ('pyproject.toml [project.dependencies]', 'numpy>=1\nsix\n')
    (tmp_path / 'requirements.in').write_text('cloudpickle\n')
    assert lock_inputs(str(tmp_path)) == ('requirements.in', 'cloudpickle\n')


def test_requirements_txt_is_the_input_when_nothing_else_declares_dependencies(tmp_path):
    (tmp_path / 'requirements.txt').write_text('six==1.16.0\n')
    (tmp_path / 'pyproject.toml').write_text('[tool.black]\nline-length = 99\n')
    assert lock_inputs(str(tmp_path)) == ('requirements.txt', 'six==1.16.0\n')
    (tmp_path / 'pyproject.toml').write_text('[project]\nname="x"\ndependencies=["six"]\n')
    assert lock_inputs(str(tmp_path))[0] == 'pyproject.toml [project.dependencies]'
    (tmp_path / 'requirements.in').write_text('six\n')
    assert lock_inputs(str(tmp_path))[0] == 'requirements.in'


def test_no_inputs_is_a_clear_error(tmp_path):
    with pytest.raises(LockError, match=r'no requirements.in, \[project.dependencies\] or '
                                        r'requirements.txt in .*repro lock'):
        lock_inputs(str(tmp_path))


def test_requirements_txt_pins_are_passed_as_constraints_too():
    cmd = compile_command('requirements.txt', python='py')
    assert cmd[:4] == ['py', '-m', 'piptools', 'compile']
    assert cmd[-2:] == ['requirements.txt', 'repro-runtime.in']
    assert cmd[cmd.index('--constraint') + 1] == 'requirements.txt'
    assert cmd[cmd.index('--output-file') + 1] == 'requirements.lock'
    for source in ('requirements.in', 'pyproject.toml [project.dependencies]'):
        cmd = compile_command(source, python='py')
        assert cmd[-2] == 'requirements.in' and '--constraint' not in cmd
        assert {'--no-emit-index-url', '--no-emit-find-links', '--generate-hashes'} <= set(cmd)
        assert not [a for a in cmd if 'index-url' in a and not a.startswith('--no-emit')]


@pytest.mark.parametrize('line', ['-r base.txt', '--requirement=base.txt', '-c c.txt',
                                  '-e .', '--editable ./pkg', './wheels/x.whl', '/opt/x.whl',
                                  'torch @ file:///home/me/torch.whl', '  -e git+ssh://x'])
def test_lines_referring_to_local_files_are_refused(line):
    with pytest.raises(LockError, match=r'requirements.txt line 2 refers to a local file'):
        check_portable('requirements.txt', f'six==1.16.0\n{line}\n')


def test_released_packages_options_and_comments_are_portable():
    text = ('# pinned with pip freeze; see file: notes\n--index-url https://example.org/simple\n'
            'six==1.16.0  # file: no\npackaging[x]==24.1 ; python_version >= "3"\n'
            'cffi==1.17.1\n')
    assert check_portable('requirements.txt', text) == text


def test_missing_lock_hint_names_the_input_repro_lock_will_use(tmp_path):
    (tmp_path / 'requirements.txt').write_text('six==1.16.0\n')
    with pytest.raises(LockError) as err:
        check_lock(str(tmp_path))
    assert str(err.value) == ('requirements.lock is missing (run `repro lock`: it locks '
                              'requirements.txt)')
    (tmp_path / 'requirements.txt').unlink()
    with pytest.raises(LockError, match='no requirements.in, .* or requirements.txt'):
        check_lock(str(tmp_path))


def test_lock_command_says_which_input_it_used(tmp_path, monkeypatch, capsys):
    (tmp_path / 'requirements.txt').write_text('six==1.16.0\n')
    monkeypatch.setattr('repro.record.locking.compile_lock', lambda root: f'{root}/requirements.lock')
    assert main(['lock', '--project', str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert 'locking requirements.txt with pip-compile' in captured.err
    assert captured.out.strip() == f'{tmp_path}/requirements.lock'


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


@pytest.mark.network
def test_real_pip_compile_locks_a_pinned_requirements_txt_keeping_its_pins(tmp_path):
    # packaging 23.2 is older than what an unpinned resolve picks: the pin must hold
    (tmp_path / 'requirements.txt').write_text('six==1.16.0\npackaging==23.2\n')
    text = open(compile_lock(str(tmp_path))).read()
    assert 'from requirements.txt' in text.splitlines()[1]
    assert 'six==1.16.0' in text and 'packaging==23.2' in text
    assert '--hash=sha256:' in text and '#   -c requirements.txt' in text
    assert re.search(r'^numpy==.*\n(.*\n)*?    # via -r repro-runtime.in', text, re.M)
    for local in ('file:', '--find-links', '--index-url', str(tmp_path), '/tmp'):
        assert local not in text, local
    check_lock(str(tmp_path))  # fresh: no error
