"""``repro sweep --engine slurm`` on a real two-node Slurm cluster
(scripts/slurm-up: slurmctld plus nodes n1 and n2 on this machine, each with
its own Docker Engine, so a node starts without the image)."""
import json
import os
import shutil
import subprocess
import sys
import uuid

import pytest

from tests.helpers import wait_for
from tests.support import ROOT, git_project, manifest, repro, small_lock_files

pytestmark = [pytest.mark.docker, pytest.mark.slurm, pytest.mark.slow]
NODES = ('n1', 'n2')
MEMBER = '''
import argparse, csv, os, random, time
parser = argparse.ArgumentParser()
parser.add_argument('--seed', type=int)
parser.add_argument('--sleep', type=float, default=0)
args = parser.parse_args()
print('started', flush=True)
time.sleep(args.sleep)
random.seed(args.seed)
with open('progress.csv', 'w', newline='') as f:
    writer = csv.writer(f)
    writer.writerow(['Epoch', 'AverageReturn'])
    for epoch in range(5):
        writer.writerow([epoch, random.random()])
'''


def node_socket(node):
    return f'unix:///run/repro-docker-{node}.sock'


@pytest.fixture(scope='module')
def cluster(base_image):
    """The test cluster, up and idle; a skip (a failure where CI requires it) if not."""
    problem = None
    if not shutil.which('sinfo'):
        problem = 'Slurm is not installed (scripts/slurm-up)'
    else:
        states = subprocess.run(['sinfo', '-h', '-N', '-o', '%N %T'], capture_output=True,
                                text=True).stdout.split()
        nodes = dict(zip(states[::2], states[1::2]))
        if any(nodes.get(n) not in ('idle', 'mixed', 'allocated') for n in NODES) or \
                not all(os.path.exists(node_socket(n)[7:]) for n in NODES):
            problem = f'the test cluster is not up ({nodes}): run scripts/slurm-up'
    if problem:
        if os.environ.get('REPRO_REQUIRE_SLURM'):
            pytest.fail(problem)
        pytest.skip(problem)
    return NODES


def project(tmp_path):
    """A project whose image no node has yet (its lock is new)."""
    return git_project(tmp_path / 'p', {
        **small_lock_files(f'slurm-{uuid.uuid4().hex[:8]}'), 'member.py': MEMBER,
        'pyproject.toml': '[tool.repro.slurm]\nextra = ["export DOCKER_HOST='
                          'unix:///run/repro-docker-${SLURMD_NODENAME}.sock"]\n'})


def status(project_dir, home, sweep_id):
    return json.loads(repro('sweep', 'status', sweep_id, '--json', cwd=project_dir,
                            home=home).stdout)['members']


def last_line(stdout):
    words = stdout.strip().splitlines()[-1].split()
    assert words[0] == 'sweep', stdout[-500:]
    return words[1], words[2]


def attempts(home, sweep_id):
    """Every member run of the sweep: (index, status, node), from the manifests."""
    found = []
    for path in (home / 'runs').glob('*/manifest.json'):
        data = json.loads(path.read_text())
        if (data.get('sweep') or {}).get('id') == sweep_id:
            found.append((data['sweep']['index'], data['status'], data['sweep'].get('node')))
    return sorted(found)


def containers_left(sweep_id):
    return {node: subprocess.run(
        ['docker', '-H', node_socket(node), 'ps', '-q', '--filter',
         f'label=org.repro.sweep-id={sweep_id}'], capture_output=True, text=True).stdout.split()
        for node in NODES}


def start_sweep(project_dir, home, *args):
    return subprocess.Popen(
        [sys.executable, '-m', 'repro', 'sweep', 'member.py', '--engine', 'slurm', *args],
        cwd=project_dir, env=dict(os.environ, REPRO_HOME=str(home)), text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_six_members_span_both_nodes_and_one_replays_here(cluster, tmp_path):
    proj, home = project(tmp_path), tmp_path / 'home'
    result = repro('sweep', 'member.py', '--engine', 'slurm', '--seeds', '0-5', '--',
                   '--seed', '{seed}', cwd=proj, home=home)
    sweep_id, count = last_line(result.stdout)
    assert count == '6/6'
    rows = status(proj, home, sweep_id)
    assert {r['status'] for r in rows} == {'succeeded'}
    assert {r['node'] for r in rows} == set(NODES)  # both nodes ran members
    logs = ''.join(p.read_text() for p in (home / 'sweeps' / sweep_id / 'slurm').glob('*.out'))
    loads = sorted(line.rsplit(' ', 1)[-1] for line in logs.splitlines()
                   if 'loaded image' in line)
    assert loads == sorted(NODES)  # each node loaded the image once, from the store
    on_n2 = next(r for r in rows if r['node'] == 'n2')
    assert manifest(home, on_n2['run_id'])['image']['id'] == \
        json.loads((home / 'sweeps' / sweep_id / 'sweep.json').read_text())['image']
    replayed = repro('replay', on_n2['run_id'], cwd=proj, home=home, check=False)
    assert replayed.returncode == 0 and 'REPRODUCED' in replayed.stdout, replayed.stdout[-800:]


def test_a_lost_node_costs_nothing(cluster, tmp_path):
    proj, home = project(tmp_path), tmp_path / 'home'
    sweep = start_sweep(proj, home, '--seeds', '0-3', '--', '--seed', '{seed}',
                        '--sleep', '20')
    killed = False
    try:
        def running_on_n2():
            return [a for a in attempts_any(home) if a[1] == 'running' and a[2] == 'n2']
        wait_for(running_on_n2, 'a member running on n2', timeout=240)
        subprocess.run([str(ROOT / 'scripts' / 'slurm-node'), 'kill', 'n2'], check=True,
                       capture_output=True)
        killed = True
        out, err = sweep.communicate(timeout=420)
    finally:
        if sweep.poll() is None:
            sweep.kill()
        if killed:
            subprocess.run([str(ROOT / 'scripts' / 'slurm-node'), 'start', 'n2'], check=True,
                           capture_output=True)
    sweep_id, count = last_line(out)
    assert count == '4/4', err[-2000:]
    runs = attempts(home, sweep_id)
    assert sorted(i for i, s, _ in runs if s == 'succeeded') == [0, 1, 2, 3]  # once each
    lost = [(i, s, n) for i, s, n in runs if s != 'succeeded']
    assert lost and all(s == 'interrupted' and n == 'n2' for _, s, n in lost), runs
    assert containers_left(sweep_id) == {n: [] for n in NODES}


def attempts_any(home):
    """(index, status, node) of every sweep member run in ``home`` so far."""
    found = []
    for path in (home / 'runs').glob('*/manifest.json'):
        try:
            data = json.loads(path.read_text())
        except ValueError:  # being replaced right now
            continue
        if data.get('sweep'):
            found.append((data['sweep']['index'], data['status'], data['sweep'].get('node')))
    return found


def test_resume_after_a_cancel_runs_only_what_is_missing(cluster, tmp_path):
    proj, home = project(tmp_path), tmp_path / 'home'
    sweep = start_sweep(proj, home, '--seeds', '0-3', '--', '--seed', '{seed}', '--sleep', '8')
    try:
        wait_for(lambda: len([a for a in attempts_any(home) if a[1] == 'running']) >= 2,
                 'two running members', timeout=240)
        sweep_id = next(p.name for p in (home / 'sweeps').iterdir())
        cancelled = repro('sweep', 'cancel', sweep_id, cwd=proj, home=home)
        assert 'cancelled job' in cancelled.stdout
        out, _ = sweep.communicate(timeout=120)
    finally:
        if sweep.poll() is None:
            sweep.kill()
    assert last_line(out)[1] != '4/4'
    before = attempts(home, sweep_id)
    assert 'running' not in {s for _, s, _ in before}
    assert {s for _, s, _ in before} <= {'interrupted', 'succeeded'}
    resumed = repro('sweep', 'resume', sweep_id, cwd=proj, home=home)
    assert last_line(resumed.stdout) == (sweep_id, '4/4')
    after = attempts(home, sweep_id)
    succeeded_before = {i for i, s, _ in before if s == 'succeeded'}
    # members that had succeeded ran once; the others got one more attempt
    assert sorted(i for i, s, _ in after if s == 'succeeded') == [0, 1, 2, 3]
    assert all(sum(1 for j, _, _ in after if j == i) == 1 for i in succeeded_before)
    assert containers_left(sweep_id) == {n: [] for n in NODES}


def test_a_store_the_nodes_cannot_see_is_named(cluster, tmp_path):
    """A file system mounted after the nodes started is not in their mount
    namespace: the tasks cannot start, and the sweep says why."""
    if os.geteuid() != 0:
        pytest.skip('mounting a tmpfs needs root')
    proj, hidden = project(tmp_path), tmp_path / 'hidden'
    hidden.mkdir()
    subprocess.run(['mount', '-t', 'tmpfs', 'tmpfs', str(hidden)], check=True)
    try:
        result = repro('sweep', 'member.py', '--engine', 'slurm', '--seeds', '0-1', '--',
                       '--seed', '{seed}', cwd=proj, home=hidden / 'store', check=False)
    finally:
        subprocess.run(['umount', str(hidden)], check=True)
    assert result.returncode == 1
    assert last_line(result.stdout)[1] == '0/2'
    assert 'is the store' in result.stderr and 'every node mounts' in result.stderr


CEM_LOCK = ('numpy', 'cloudpickle', 'gymnasium', 'farama-notifications', 'typing-extensions')


def experiment_files(home, run_id):
    """{name: bytes} of progress.csv and the snapshot of a CEM run."""
    (log_dir,) = {p.parent for p in (home / 'runs' / run_id / 'outputs').rglob('progress.csv')}
    return {name: (log_dir / name).read_bytes() for name in ('progress.csv', 'params.pkl')}


def test_a_requeued_member_resumes_to_the_bytes_of_an_uninterrupted_run(cluster, tmp_path):
    """scontrol requeue mid-training: the task stops the container (SIGTERM:
    LocalRunner stops after a consistent snapshot), Slurm runs the task again,
    and the new attempt continues from that snapshot."""
    proj = git_project(tmp_path / 'p', {
        **small_lock_files(f'slurm-{uuid.uuid4().hex[:8]}', CEM_LOCK),
        'cem.py': (ROOT / 'examples' / 'cartpole_cem.py').read_text(),
        'pyproject.toml': '[tool.repro.slurm]\nextra = ["export DOCKER_HOST='
                          'unix:///run/repro-docker-${SLURMD_NODENAME}.sock"]\n'})
    home = tmp_path / 'home'
    args = ['--seeds', '3', '--', '--seed', '{seed}', '--n-epochs', '40']
    sweep = subprocess.Popen(
        [sys.executable, '-m', 'repro', 'sweep', 'cem.py', '--engine', 'slurm', *args],
        cwd=proj, env=dict(os.environ, REPRO_HOME=str(home)), text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        def training():
            rows = [p for p in (home / 'runs').glob('*/outputs/**/progress.csv')
                    if len(p.read_text().splitlines()) >= 4]
            return rows
        wait_for(training, 'a few epochs of training', timeout=300)
        sweep_id = next(p.name for p in (home / 'sweeps').iterdir())
        (job,) = json.loads((home / 'sweeps' / sweep_id / 'sweep.json').read_text())['jobs']
        subprocess.run(['scontrol', 'requeue', f'{job}_0'], check=True, capture_output=True)
        out, err = sweep.communicate(timeout=420)
    finally:
        if sweep.poll() is None:
            sweep.kill()
    assert last_line(out)[1] == '1/1', err[-2000:]
    runs = sorted(attempts(home, sweep_id))
    assert [s for _, s, _ in runs] == ['interrupted', 'succeeded'], runs
    rows = status(proj, home, sweep_id)
    resumed = manifest(home, rows[0]['run_id'])
    assert resumed['resumed_from'] and resumed['sweep']['attempt'] == 2
    # the same member, uninterrupted, on this host's engine
    local = repro('sweep', 'cem.py', *args, cwd=proj, home=tmp_path / 'local')
    local_id = last_line(local.stdout)[0]
    (row,) = status(proj, tmp_path / 'local', local_id)
    assert experiment_files(home, rows[0]['run_id']) == \
        experiment_files(tmp_path / 'local', row['run_id'])
    assert containers_left(sweep_id) == {n: [] for n in NODES}
