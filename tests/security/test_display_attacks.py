"""Text from a forged store or a container reaching the terminal: never a
forged line, never a terminal escape, never a traceback."""
import os
import shutil

from repro.cli import main
from repro.store.manifest import render, seal


def second_run(forger, **changes):
    """A copy of the forger's run under a new id, with ``changes`` re-sealed."""
    other = forger.store.create_run('train.py', 0)
    os.rmdir(forger.store.run_dir(other))
    shutil.copytree(forger.run_dir, forger.store.run_dir(other))
    manifest = {**forger.manifest, 'run_id': other, 'replay': ['repro', 'replay', other],
                **changes}
    with open(os.path.join(forger.store.run_dir(other), 'manifest.json'), 'w') as f:
        f.write(render(seal(manifest)))
    return other


def test_diff_escapes_keys_and_values_from_manifests(forger, capsys):
    other = second_run(forger, determinism={'k\x1b[2J\nforged: line': 'v\u202e'})
    assert main(['diff', forger.run_id, other]) == 0
    out = capsys.readouterr().out
    assert '\x1b' not in out and '\u202e' not in out
    assert not any(line.startswith('forged: line') for line in out.splitlines())
    assert 'k\\x1b[2J\\nforged: line' in out


def test_plot_of_values_matplotlib_cannot_draw_is_one_line(forger, capsys, tmp_path):
    with open(os.path.join(forger.run_dir, 'outputs', 'progress.csv'), 'w') as f:
        f.write('Epoch,Loss\n0,1e308\n1,-1e308\n')
    from repro.store.manifest import artifacts
    forger.reseal(artifacts=artifacts(forger.run_dir))
    code = main(['plot', forger.run_id, '--metric', 'Loss', '-o', str(tmp_path / 'x.png')])
    err = capsys.readouterr().err
    assert code != 0 and err.count('\n') == 1 and 'Traceback' not in err, err
    assert not (tmp_path / 'x.png').exists()
