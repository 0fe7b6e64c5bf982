#!/usr/bin/env python3
"""Sweeps on the two-node Slurm test cluster (scripts/slurm-up).

    python bench/sweep.py [--members 16] [--epochs N]

Three figures, with the image already on both nodes (a warm image):
- makespan of a 16-member sweep of examples/cartpole_cem.py ÷ (sum of the
  members' run times ÷ slots): how well the cluster's slots are kept busy;
- the same makespan ÷ that of a hand-written ``sbatch --array`` whose tasks
  `docker run` the same image with the same arguments: what repro adds;
- the time from `repro sweep` to the first member running.
Slots: the cluster runs one task per node (select/linear), so 2.
A fourth figure needs no cluster: one member's attempt lookup (what every
array task does first) in a store holding a 1,000-member sweep, through the
attempt index and by the scan of every manifest that sweeps recorded before
the index still get (a fake engine makes the runs).
``--epochs N`` passes ``--n-epochs N`` to every member (the example's own
default is 10 epochs, about 3 s here): the same figures for longer members.
"""
import argparse
import json
import os
import pathlib
import re
import statistics
import subprocess
import sys
import tempfile
import time

from common import REPRO, ROOT, table

SLOTS = 2
CEM = (ROOT / 'examples' / 'cartpole_cem.py').read_text()
PYPROJECT = ('[tool.repro.slurm]\nextra = ["export DOCKER_HOST='
             'unix:///run/repro-docker-${SLURMD_NODENAME}.sock"]\n')


def project(root):
    root.mkdir(parents=True)
    for name in ('requirements.in', 'requirements.lock'):
        (root / name).write_text((ROOT / name).read_text())
    (root / 'cem.py').write_text(CEM)
    (root / 'pyproject.toml').write_text(PYPROJECT)
    for args in (['init', '-q'], ['add', '.'],
                 ['-c', 'user.name=b', '-c', 'user.email=b@e', 'commit', '-qm', 'bench']):
        subprocess.run(['git', '-C', str(root), *args], check=True, capture_output=True)
    return root


def repro_sweep(root, home, members, extra=()):
    """(wall seconds, sweep id, member run times, seconds to the first running
    member, median seconds of a task's checks before its member)."""
    env = dict(os.environ, REPRO_HOME=str(home))
    before = set((home / 'runs').glob('*'))
    start = time.perf_counter()
    proc = subprocess.Popen([*REPRO, 'sweep', 'cem.py', '--engine', 'slurm', '--seeds',
                             f'0-{members - 1}', '--', '--seed', '{seed}', *extra], cwd=root, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = None
    while proc.poll() is None and first is None:
        for path in (home / 'runs').glob('*/logs/stdout.log'):
            if path.parent.parent not in before:
                first = time.perf_counter() - start
                break
        time.sleep(0.05)
    out, err = proc.communicate()
    wall = time.perf_counter() - start
    assert proc.returncode == 0, err[-2000:]
    sweep_id = out.split()[-3]
    logs = ''.join(p.read_text() for p in (home / 'sweeps' / sweep_id / 'slurm').glob('*.out'))
    times = [float(t) for t in re.findall(r'member \d+: succeeded \S+ in ([0-9.]+) s', logs)]
    checks = [float(t) for t in re.findall(r'after ([0-9.]+) s of checks', logs)]
    print(f'  task checks before each member: median {statistics.median(checks):.2f} s',
          flush=True)
    assert len(times) == members, logs[-2000:]
    return wall, sweep_id, times, first, statistics.median(checks)


def hand_written(root, home, image, members, extra=()):
    """Seconds from submitting a hand-written ``sbatch --array`` whose tasks
    `docker run` the same image to the end of its last task (read from the
    tasks' own clocks: ``sbatch --wait`` polls with a backoff of seconds)."""
    out = pathlib.Path(tempfile.mkdtemp(prefix='hand-', dir=home))
    script = out / 'hand.sh'
    script.write_text(f'''#!/bin/bash
#SBATCH --array=0-{members - 1}
#SBATCH --output={out}/%A_%a.out
export DOCKER_HOST=unix:///run/repro-docker-${{SLURMD_NODENAME}}.sock
mkdir -p {out}/$SLURM_ARRAY_TASK_ID
docker run --rm --network none -e PYTHONHASHSEED=0 -e OMP_NUM_THREADS=1 \\
  -e MKL_NUM_THREADS=1 -e OPENBLAS_NUM_THREADS=1 -v {root}:/src:ro \\
  -v {out}/$SLURM_ARRAY_TASK_ID:/out -w /out {image} \\
  python /src/cem.py --seed $SLURM_ARRAY_TASK_ID {' '.join(extra)}
echo "END $(date +%s.%N)"
''')
    start = time.time()
    subprocess.run(['sbatch', '--wait', str(script)], check=True, capture_output=True)
    ends = [float(x) for p in out.glob('*.out') for x in re.findall(r'END ([0-9.]+)',
                                                                     p.read_text())]
    assert len(ends) == members
    return max(ends) - start


def lookup(members=1000):
    """(seconds of one member's lookup with the attempt index, by the scan),
    medians of 5; the environment and the reaper are put back after."""
    from repro.engines import reaper
    saved = dict(os.environ), reaper.spawn
    reaper.spawn = lambda *args: None  # the fake engine's runs need no reaper
    try:
        with tempfile.TemporaryDirectory(prefix='bench-lookup-') as tmp:
            os.environ['REPRO_CACHE'] = os.path.join(tmp, 'cache')
            os.environ.pop('REPRO_HOME', None)
            return _lookup(pathlib.Path(tmp), members)
    finally:
        os.environ.clear()
        os.environ.update(saved[0])
        reaper.spawn = saved[1]


def _lookup(tmp, members):
    from repro.execute import sweep, sweepruns
    from repro.store.runs import RunStore
    from repro.store.sweeps import SweepStore
    from tests.fakes import FakeEngine, project as fake_project, remember_image
    root = fake_project(tmp / 'p')
    remember_image(FakeEngine(), root)
    request = sweep.SweepRequest(str(root / 'train.py'), f'0-{members - 1}', (),
                                 ('--seed', '{seed}'), max_parallel=2)
    result = sweep.start(request, connect=FakeEngine, progress=lambda m: None)
    store = RunStore.for_project(str(root))
    indexed = SweepStore(store).read(result.sweep_id)
    scanned = {k: v for k, v in indexed.items() if k != 'attempt_index'}

    def one(record):
        start = time.perf_counter()
        assert len(sweepruns.attempts(store, record, [members // 2])[members // 2]) == 1
        return time.perf_counter() - start
    return tuple(statistics.median(one(r) for _ in range(5)) for r in (indexed, scanned))


def rows(members=16, epochs=None):
    with tempfile.TemporaryDirectory(prefix='bench-sweep-') as tmp:
        tmp = pathlib.Path(tmp)
        root, home = project(tmp / 'p'), tmp / 'home'
        print('sweep: warming the image on both nodes ...', flush=True)
        warm_id = repro_sweep(root, home, SLOTS * 2)[1]
        image = json.loads((home / 'sweeps' / warm_id / 'sweep.json').read_text())['image']
        extra = ('--n-epochs', str(epochs)) if epochs else ()
        print(f'sweep: {members} members with repro, then by hand ...', flush=True)
        wall, _, times, first, checks = repro_sweep(root, home, members, extra)
        by_hand = hand_written(root, home, image, members, extra)
    ideal = sum(times) / SLOTS
    return [
        (f'Slurm sweep of {members} CEM members ({epochs or 10} epochs) on 2 nodes: '
         'makespan ÷ (sum of member run times ÷ slots)',
         f'{wall / ideal:.2f} ({wall:.1f} s ÷ {ideal:.1f} s; members '
         f'{statistics.median(times):.1f} s median, their tasks\' checks {checks:.2f} s '
         'median)', '≤ 1.15', wall / ideal <= 1.15),
        (f'Slurm sweep makespan ÷ a hand-written sbatch --array of docker run '
         f'({members} members)', f'{wall / by_hand:.2f} ({wall:.1f} s ÷ {by_hand:.1f} s)',
         '≤ 1.2', wall / by_hand <= 1.2),
        ('`repro sweep` to the first member running (warm image)', f'{first:.1f} s',
         '≤ 5 s', first <= 5),
        lookup_row(),
    ]


def lookup_row(members=1000):
    indexed, scanned = lookup(members)
    return (f'A task\'s lookup of its member\'s attempts, store holding a {members:,}-member '
            'sweep', f'{indexed * 1000:.1f} ms (the scan of every manifest, as before the '
            f'attempt index: {scanned * 1000:.0f} ms)', '(reference)', None)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--members', type=int, default=16)
    parser.add_argument('--epochs', type=int, default=None,
                        help="epochs per member (default: the example's 10)")
    args = parser.parse_args()
    print(table(rows(args.members, args.epochs)))


if __name__ == '__main__':
    sys.path.insert(0, str(pathlib.Path(__file__).parent))
    main()
