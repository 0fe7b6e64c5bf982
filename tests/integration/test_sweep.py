"""``repro sweep`` in real containers: the example CEM launcher over seeds and
a grid; members' bytes do not depend on how many run beside them."""
import pytest

from tests.support import ROOT, git_project, lock_files, manifest, progress_csv, repro

pytestmark = [pytest.mark.docker]


def sweep_id_of(result):
    last = result.stdout.strip().splitlines()[-1].split()
    assert last[0] == 'sweep' and last[3] == 'succeeded', result.stdout[-500:]
    return last[1], last[2]


def members(project, home, sweep_id):
    """The rows of `repro sweep status --json`, with each member's grid point."""
    import json
    rows = json.loads(repro('sweep', 'status', sweep_id, '--json', cwd=project,
                            home=home).stdout)['members']
    record = json.loads((home / 'sweeps' / sweep_id / 'sweep.json').read_text())
    return [{**row, 'params': m['params']} for row, m in zip(rows, record['members'])]


def test_a_sweep_runs_every_member_once_and_its_members_replay(tmp_path, base_image):
    project = git_project(tmp_path / 'proj', {
        **lock_files(), 'cem.py': (ROOT / 'examples' / 'cartpole_cem.py').read_text()})
    home = tmp_path / 'home'
    args = ['sweep', 'cem.py', '--seeds', '0-1', '--grid', 'n-epochs=1,2']
    parallel = repro(*args, '--max-parallel', '2', '--', '--seed', '{seed}', cwd=project,
                     home=home)
    first, count = sweep_id_of(parallel)
    assert count == '4/4'
    serial = repro(*args, '--max-parallel', '1', '--', '--seed', '{seed}', cwd=project,
                   home=home)
    second, _ = sweep_id_of(serial)

    one, other = members(project, home, first), members(project, home, second)
    assert [(m['seed'], m['params']) for m in one] == [
        (0, {'n-epochs': '1'}), (1, {'n-epochs': '1'}), (0, {'n-epochs': '2'}),
        (1, {'n-epochs': '2'})]
    for a, b in zip(one, other):  # 2 at a time or 1 at a time: the same bytes
        assert progress_csv(home, a['run_id']).read_bytes() == \
            progress_csv(home, b['run_id']).read_bytes()
        data = manifest(home, a['run_id'])
        assert data['sweep'] == {'id': first, 'index': a['index'], 'params': a['params'],
                                 'attempt': 1}
        assert data['env']['OMP_NUM_THREADS'] == '1' and data['threads'] == 1
    rows = progress_csv(home, one[3]['run_id']).read_text().splitlines()
    assert len(rows) == 3  # header + the 2 epochs of the grid point

    status = repro('sweep', 'status', first, cwd=project, home=home).stdout
    assert status.count('succeeded') == 5  # the header's count, then 4 members
    listed = repro('ls', '--sweep', first, cwd=project, home=home).stdout
    assert sorted(line.split()[0] for line in listed.splitlines()[1:]) == \
        sorted(m['run_id'] for m in one)
    replayed = repro('replay', '--sweep', first, '--sample', '2', cwd=project, home=home)
    assert replayed.stdout.strip().splitlines()[-1] == f'sweep {first}: 2/2 REPRODUCED'
    plot = tmp_path / 'sweep.png'
    repro('plot', '--sweep', first, '--metric', 'AverageReturn', '-o', plot, cwd=project,
          home=home)
    assert plot.read_bytes()[:4] == b'\x89PNG'
    resumed = repro('sweep', 'resume', first, cwd=project, home=home)
    assert sweep_id_of(resumed) == (first, '4/4')
    assert 'all 4 members have succeeded already' in resumed.stderr
