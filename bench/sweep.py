#!/usr/bin/env python3
"""Sweeps on the two-node Slurm test cluster (scripts/slurm-up).

    python bench/sweep.py [--members 16]

Three figures, with the image already on both nodes (a warm image):
- makespan of a 16-member sweep of examples/cartpole_cem.py ÷ (sum of the
  members' run times ÷ slots): how well the cluster's slots are kept busy;
- the same makespan ÷ that of a hand-written ``sbatch --array`` whose tasks
  `docker run` the same image with the same arguments: what repro adds;
- the time from `repro sweep` to the first member running.
Slots: the cluster runs one task per node (select/linear), so 2.
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


def repro_sweep(root, home, members):
    """(wall seconds, sweep id, member run times, seconds to the first running member)."""
    env = dict(os.environ, REPRO_HOME=str(home))
    before = set((home / 'runs').glob('*'))
    start = time.perf_counter()
    proc = subprocess.Popen([*REPRO, 'sweep', 'cem.py', '--engine', 'slurm', '--seeds',
                             f'0-{members - 1}', '--', '--seed', '{seed}'], cwd=root, env=env,
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
    return wall, sweep_id, times, first


def hand_written(root, home, image, members):
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
  python /src/cem.py --seed $SLURM_ARRAY_TASK_ID
echo "END $(date +%s.%N)"
''')
    start = time.time()
    subprocess.run(['sbatch', '--wait', str(script)], check=True, capture_output=True)
    ends = [float(x) for p in out.glob('*.out') for x in re.findall(r'END ([0-9.]+)',
                                                                     p.read_text())]
    assert len(ends) == members
    return max(ends) - start


def rows(members=16):
    with tempfile.TemporaryDirectory(prefix='bench-sweep-') as tmp:
        tmp = pathlib.Path(tmp)
        root, home = project(tmp / 'p'), tmp / 'home'
        print('sweep: warming the image on both nodes ...', flush=True)
        _, warm_id, _, _ = repro_sweep(root, home, SLOTS * 2)
        image = json.loads((home / 'sweeps' / warm_id / 'sweep.json').read_text())['image']
        print(f'sweep: {members} members with repro, then by hand ...', flush=True)
        wall, _, times, first = repro_sweep(root, home, members)
        by_hand = hand_written(root, home, image, members)
    ideal = sum(times) / SLOTS
    return [
        (f'Slurm sweep of {members} CEM members on 2 nodes: makespan ÷ (sum of member '
         'run times ÷ slots)',
         f'{wall / ideal:.2f} ({wall:.1f} s ÷ {ideal:.1f} s; members '
         f'{statistics.median(times):.1f} s median)', '≤ 1.15', wall / ideal <= 1.15),
        (f'Slurm sweep makespan ÷ a hand-written sbatch --array of docker run '
         f'({members} members)', f'{wall / by_hand:.2f} ({wall:.1f} s ÷ {by_hand:.1f} s)',
         '≤ 1.2', wall / by_hand <= 1.2),
        ('`repro sweep` to the first member running (warm image)', f'{first:.1f} s',
         '≤ 5 s', first <= 5),
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--members', type=int, default=16)
    print(table(rows(parser.parse_args().members)))


if __name__ == '__main__':
    sys.path.insert(0, str(pathlib.Path(__file__).parent))
    main()
