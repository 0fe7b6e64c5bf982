"""Issue 9: what the store and containers hold is untrusted; so are odd paths.

An attacker here writes a manifest (any JSON), names a launcher, an argument
or an artifact, or picks the project's path. Nothing they choose may forge
output, crash a command with a traceback, or leave containers behind.
"""
import ast
import json
import os
import random
import shutil
import subprocess
import uuid

import pytest

from repro.cli import main
from repro.engines.dockerengine import bind_mount
from repro.errors import EngineError
from repro.audit.render import escape, manifest_summary, run_summary, runs_table
from repro.store.runs import RunStore
from tests.helpers import example_manifest


def one_line(err):
    assert err.count('\n') == 1 and 'Traceback' not in err, err
    return err


# -- escape: the one helper every rendered value goes through ------------------

@pytest.mark.parametrize('raw, shown', [
    ('train.py', 'train.py'),
    ('é ü 训练.py', 'é ü 训练.py'),             # printable non-ASCII stays readable
    ('a\nb', 'a\\nb'), ('a\rb', 'a\\rb'), ('a\tb', 'a\\tb'),
    ('\x1b[2J', '\\x1b[2J'),                     # terminal escape: clear screen
    ('\x7f', '\\x7f'), ('\x85', '\\x85'),        # DEL, C1 next line
    ('\ud800', '\\ud800'), ('\udcff', '\\udcff'),  # lone surrogates (undecodable names)
    ('\u202e', '\\u202e'), ('\u2066', '\\u2066'), ('\u2069', '\\u2069'),  # bidi
    ('\u2028', '\\u2028'), ('\u2029', '\\u2029'),  # line and paragraph separators
    ('a\\nb', 'a\\\\nb'),                        # a literal backslash-n is not a newline
])
def test_escape_table(raw, shown):
    assert escape(raw) == shown


def test_escape_covers_every_code_point_and_is_reversible():
    """One printable line whatever the input, and two inputs never look alike."""
    every = ''.join(map(chr, range(0x110000)))
    shown = escape(every)
    assert shown.isprintable()
    assert ast.literal_eval("'" + shown.replace("'", "\\'") + "'") == every
    rng = random.Random(9)
    for _ in range(300):
        text = ''.join(chr(rng.choice([rng.randrange(0x110000), rng.randrange(0x30),
                                       ord('\\'), 0x202e])) for _ in range(rng.randrange(9)))
        assert ast.literal_eval("'" + escape(text).replace("'", "\\'") + "'") == text


# -- tables: no forged rows or lines -------------------------------------------

FORGED_LAUNCHER = 'x.py\n20991231-000000-good-s0-0000  succeeded  0  aaaaaaaa  0m01s  good.py'
FIELDS = ('run_id', 'status', 'seed', 'launcher', 'start_time', 'end_time', 'args',
          'replay', 'error')


def lines_of(text):
    """Lines as any reader splits them (splitlines also splits on \\x85, \\u2028…)."""
    lines = text.splitlines()
    assert all(line.isprintable() for line in lines), text
    return lines


@pytest.mark.parametrize('field', FIELDS)
@pytest.mark.parametrize('evil', [FORGED_LAUNCHER, 'a\rb', 'a\x85b', 'a\u2028b', '\x1b[1A',
                                  'a\u202eyp.b', '\udcff'])
def test_a_name_cannot_forge_a_row_or_a_line(field, evil):
    manifest = example_manifest()
    manifest[field] = [evil] if field in ('args', 'replay') else evil
    summary = run_summary(manifest)
    assert len(lines_of(runs_table([summary, summary]))) == 3
    assert len(lines_of(manifest_summary(manifest))) == \
        len(manifest_summary(example_manifest()).splitlines()) + (field == 'error')
    assert len(lines_of(manifest_summary(manifest, status=evil))) == \
        len(manifest_summary(example_manifest()).splitlines()) + (field == 'error')


@pytest.mark.parametrize('where', [('git', 'commit'), ('git', 'tree'), ('image', 'id'),
                                   ('image', 'key'), ('artifacts', 'path'),
                                   ('artifacts', 'sha256'), ('artifacts', 'size')])
def test_nested_names_are_escaped_too(where):
    section, key = where
    manifest = example_manifest()
    target = manifest[section][0] if section == 'artifacts' else manifest[section]
    target[key] = 'ab\ncdefghijklmnopqrstuvwxyz\u202e'
    expected = len(manifest_summary(example_manifest()).splitlines())
    assert len(lines_of(manifest_summary(manifest))) == expected
    assert len(lines_of(runs_table([run_summary(manifest)]))) == 2


def odd_values(rng, depth=0):
    """JSON values of every type, as a forged manifest may hold them."""
    scalars = [None, True, False, 0, -1, 2 ** 70, 1.5, float('nan'), float('inf'), '', 'x',
               '\n', '\udcff', '\u202e', '9' * 5000, 'a' * 300]
    if depth > 2:
        return rng.choice(scalars)
    kind = rng.randrange(4)
    if kind == 0:
        return [odd_values(rng, depth + 1) for _ in range(rng.randrange(4))]
    if kind == 1:
        return {rng.choice(['path', 'size', 'sha256', 'commit', 'x', '\n']):
                odd_values(rng, depth + 1) for _ in range(rng.randrange(4))}
    return rng.choice(scalars)


def test_rendering_never_raises_on_any_json_value():
    keys = [*FIELDS, 'git', 'image', 'artifacts', 'dirty', 'replay_of']
    rng = random.Random(9)
    cases = [None, [], 'manifest', 5, {}]  # not even an object
    for _ in range(2000):
        manifest = example_manifest()
        for key in rng.sample(keys, rng.randrange(1, 5)):
            manifest[key] = odd_values(rng)
        if rng.random() < 0.5:  # odd values inside the sections as well
            manifest['git'] = {'commit': odd_values(rng), 'dirty': odd_values(rng),
                               'tree': odd_values(rng)}
            manifest['image'] = {'id': odd_values(rng), 'key': odd_values(rng)}
        cases.append(manifest)
    for manifest in cases:
        manifest = json.loads(json.dumps(manifest))  # only what JSON can hold
        summary = run_summary(manifest)
        assert len(lines_of(runs_table([summary]))) == 2
        lines_of(manifest_summary(manifest))
        lines_of(manifest_summary(manifest, status=odd_values(rng)))


def test_a_broken_run_shows_why_in_one_short_row():
    reason = 'manifest.json is not JSON: Expecting value: line 1 column 1\n' + 'x' * 500
    rows = lines_of(runs_table([run_summary(example_manifest()),
                                run_summary({'run_id': 'r1', 'status': 'broken',
                                             'error': reason})]))
    assert len(rows) == 3
    assert rows[2].split()[:2] == ['r1', 'broken']
    assert '(broken: manifest.json is not JSON: Expecting value: line 1' in rows[2]
    assert rows[2].endswith('…)') and len(rows[2]) < 200


# -- repro plot: the output is checked before anything is read or drawn ---------

@pytest.fixture
def plot_store(tmp_path, monkeypatch):
    pytest.importorskip('matplotlib')
    store = RunStore(tmp_path / 'store')
    run_id = store.create_run('train.py', 0)
    out = os.path.join(store.run_dir(run_id), 'outputs')
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, 'progress.csv'), 'w') as f:
        f.write('Epoch,AverageReturn\n0,1\n1,2\n')
    manifest = example_manifest()
    manifest.update(run_id=run_id)
    store.write_manifest(run_id, manifest)
    monkeypatch.setenv('REPRO_HOME', str(store.root))
    return run_id


@pytest.mark.parametrize('name, message', [
    ('curves.unknownext', "unknown image format 'unknownext'"),
    ('curves', 'no file extension'),
    ('curves.png.exe', "unknown image format 'exe'"),
    pytest.param('curves.pgf', "unknown image format 'pgf'", marks=pytest.mark.skipif(
        bool(shutil.which('xelatex')), reason='a LaTeX system can write .pgf')),
])
def test_plot_to_an_unknown_format_is_a_one_line_error(plot_store, tmp_path, capsys,
                                                       name, message):
    out = tmp_path / 'plots'
    out.mkdir()
    assert main(['plot', plot_store, '-o', str(out / name)]) == 2
    err = one_line(capsys.readouterr().err)
    assert message in err and '.png' in err and '.svg' in err
    assert list(out.iterdir()) == []


def test_plot_into_a_missing_directory_fails_before_reading_any_run(tmp_path, capsys,
                                                                    monkeypatch):
    monkeypatch.setenv('REPRO_HOME', str(tmp_path / 'no-store'))
    target = tmp_path / 'missing' / 'curves.png'
    assert main(['plot', 'no-such-run', '-o', str(target)]) == 2
    assert 'no directory' in one_line(capsys.readouterr().err)
    assert not (tmp_path / 'missing').exists() and not (tmp_path / 'no-store').exists()


def test_plot_onto_a_directory_is_a_one_line_error(plot_store, tmp_path, capsys):
    (tmp_path / 'taken.png').mkdir()
    assert main(['plot', plot_store, '-o', str(tmp_path / 'taken.png')]) == 2
    assert 'not a writable file' in one_line(capsys.readouterr().err)


def test_plot_still_writes_a_known_format(plot_store, tmp_path):
    assert main(['plot', plot_store, '-o', str(tmp_path / 'c.SVG')]) == 0
    assert b'<svg' in (tmp_path / 'c.SVG').read_bytes()


# -- repro run --seed: only seeds that differ from each other --------------------

@pytest.fixture
def git_dir(tmp_path, monkeypatch):
    subprocess.run(['git', 'init', '-q', str(tmp_path / 'p')], check=True)
    monkeypatch.chdir(tmp_path / 'p')
    monkeypatch.setenv('REPRO_HOME', str(tmp_path / 'home'))
    return tmp_path


@pytest.mark.parametrize('seed', ['-1', str(2 ** 32), str(2 ** 64), '-4294967296'])
def test_seeds_outside_32_bits_are_usage_errors(git_dir, capsys, seed):
    (git_dir / 'p' / 'train.py').write_text('')
    assert main(['run', 'train.py', '--seed', seed]) == 2
    assert '--seed' in one_line(capsys.readouterr().err)
    assert not (git_dir / 'home').exists() and not (git_dir / 'p' / '.repro').exists()


def test_the_largest_seed_is_accepted(git_dir, capsys):
    from repro.contract import MAX_SEED
    assert MAX_SEED == 2 ** 32 - 1
    assert main(['run', 'nope.py', '--seed', str(MAX_SEED)]) == 2
    assert 'launcher not found' in one_line(capsys.readouterr().err)  # past the seed check


# -- the engine: mounts, failed starts, host name ---------------------------------

def test_mounts_are_mount_objects_not_volume_strings():
    """The ``-v`` string splits on ':'; a Mount keeps the path whole."""
    path = '/tmp/a:b,c=d/x:ro'
    assert bind_mount(path, '/src', 'ro') == {
        'Target': '/src', 'Source': path, 'Type': 'bind', 'ReadOnly': True}
    assert bind_mount(path, '/out', 'rw')['ReadOnly'] is False
    with pytest.raises(EngineError, match='absolute'):
        bind_mount('relative-name', '/src', 'ro')  # would be a named volume
    with pytest.raises(EngineError, match='mode'):
        bind_mount('/tmp', '/src', 'ro,z')


def leftovers(label):
    return subprocess.run(['docker', 'ps', '-aq', '--filter', f'label={label}'],
                          capture_output=True, text=True, check=True).stdout.split()


@pytest.mark.docker
def test_a_project_path_with_colons_commas_and_equals_is_mounted(engine, base_image,
                                                                 tmp_path):
    src = tmp_path / 'proj:v2,type=volume=x'
    src.mkdir()
    (src / 'f.txt').write_text('inside\n')
    out = tmp_path / 'out:rw'
    out.mkdir()
    os.chmod(out, 0o777)
    chunks = []
    code, _ = engine.run(
        base_image[0], ['sh', '-c', 'cat /m/f.txt && echo w > /o/w.txt && '
                        '! touch /m/new 2>/dev/null && echo ro-ok'],
        mounts=[(str(src), '/m', 'ro'), (str(out), '/o', 'rw')], on_output=chunks.append)
    assert code == 0, b''.join(chunks)
    assert b''.join(chunks).split() == [b'inside', b'ro-ok']
    assert (out / 'w.txt').read_text() == 'w\n' and not (src / 'new').exists()


@pytest.mark.docker
@pytest.mark.parametrize('how', ['missing executable', 'gpus on a host without GPUs'])
def test_a_container_that_fails_to_start_is_removed(engine, base_image, how):
    label = f'org.repro.test={uuid.uuid4().hex}'
    kwargs = {'labels': dict([label.split('=')])}
    command = ['/no/such/program']
    if how.startswith('gpus'):
        runtimes = subprocess.run(['docker', 'info', '--format', '{{json .Runtimes}}'],
                                  capture_output=True, text=True).stdout
        if 'nvidia' in runtimes:
            pytest.skip('this engine has GPUs')
        kwargs['gpus'], command = 'all', ['true']
    for _ in range(2):  # every try, not just the first
        with pytest.raises(EngineError, match='^cannot start the container: ') as exc:
            engine.run(base_image[0], command, **kwargs)
        assert '\n' not in str(exc.value)
    assert leftovers(label) == []


@pytest.mark.docker
def test_the_container_host_name_can_be_fixed(engine, base_image):
    script = ['sh', '-c', 'cat /etc/hostname; hostname']
    chunks = []
    engine.run(base_image[0], script, hostname='repro-run', on_output=chunks.append)
    assert b''.join(chunks).split() == [b'repro-run', b'repro-run']
    chunks.clear()
    _, container = engine.run(base_image[0], script, on_output=chunks.append)
    assert b''.join(chunks).split() == [container[:12].encode()] * 2  # the engine's choice
