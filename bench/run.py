#!/usr/bin/env python3
"""Benchmarks of `repro run` and the image builder (issue #3), side by side.

    python bench/run.py [--reps 5] [--write docs/BENCHMARKS-run.md]

Needs a Docker Engine and the base image (scripts/docker-up).
1. Warm `repro run` of a trivial launcher (image cached) / bare
   `docker run --network none IMAGE python trivial.py` (goal <= 1.3).
2. Deciding that an image can be reused: key computed, image found (<= 100 ms).
3. Cold build of the examples' image / `docker build --no-cache` of the
   rendered Dockerfile for the same lock and wheelhouse (goal <= 1.1).
4. `repro --help` (goal <= 150 ms).
"""
import argparse
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from repro import dockerfile as df  # noqa: E402
from repro.config import load_config  # noqa: E402
from repro.engine import DockerEngine  # noqa: E402
from repro.image import ensure_image, plan_image, remove_cached_layers  # noqa: E402
from repro.wheels import Wheelhouse, link_wheelhouse  # noqa: E402

REPRO = [sys.executable, '-m', 'repro']


def timed(cmd, **kwargs):
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, **kwargs)
    return time.perf_counter() - start


def trivial_project(tmp):
    root = pathlib.Path(tmp) / 'trivial'
    root.mkdir()
    for name in ('requirements.in', 'requirements.lock'):
        shutil.copy(ROOT / name, root)
    (root / 'trivial.py').write_text('print("hello")\n')
    for args in (['init', '-q'], ['add', '.'],
                 ['-c', 'user.name=b', '-c', 'user.email=b@e', 'commit', '-qm', 'b']):
        subprocess.run(['git', '-C', str(root), *args], check=True)
    return root


def bench_warm_run(engine, plan, reps, tmp):
    root = trivial_project(tmp)
    image_id, _ = ensure_image(engine, plan, progress=lambda m: None)
    env = dict(os.environ, REPRO_HOME=str(pathlib.Path(tmp) / 'store'))
    timed(REPRO + ['run', 'trivial.py'], cwd=root, env=env)  # warm-up
    ours, bare = [], []
    for _ in range(reps):
        ours.append(timed(REPRO + ['run', 'trivial.py'], cwd=root, env=env))
        bare.append(timed(['docker', 'run', '--rm', '--network', 'none', '-v',
                           f'{root}:/src:ro', image_id, 'python', '/src/trivial.py']))
    return statistics.median(ours), statistics.median(bare)


def bench_reuse(engine, config, lock, reps=20):
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        plan = plan_image(engine, config, 'requirements.lock', lock)
        assert engine.find_image('org.repro.key', plan.key)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_cold_build(engine, plan, tmp):
    existing = engine.find_image('org.repro.key', plan.key)
    if existing:
        engine.remove_image(existing)
    remove_cached_layers()
    start = time.perf_counter()
    ensure_image(engine, plan, progress=lambda m: None)
    ours = time.perf_counter() - start

    ctx = pathlib.Path(tmp) / 'context'
    ctx.mkdir()
    (ctx / 'Dockerfile').write_text(plan.dockerfile)
    (ctx / 'requirements.lock').write_bytes(plan.lock_bytes)
    wheels, _ = Wheelhouse().ensure(plan.lock_bytes.decode(), progress=lambda m: None)
    link_wheelhouse(wheels, str(ctx / 'wheelhouse'))
    for rel, data in df.package_files():
        path = ctx / 'repro' / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    tag = 'repro-bench:docker-build'
    docker_build = timed(['docker', 'build', '--no-cache', '--network', 'none', '-q',
                          '-t', tag, str(ctx)])
    engine.remove_image(tag)
    return ours, docker_build


def bench_help(reps=10):
    timed(REPRO + ['--help'])
    return statistics.median(timed([str(ROOT / '.venv' / 'bin' / 'repro'), '--help'])
                             for _ in range(reps))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--reps', type=int, default=5)
    parser.add_argument('--write')
    args = parser.parse_args()
    engine = DockerEngine.connect()
    config = load_config(str(ROOT))
    lock = (ROOT / 'requirements.lock').read_bytes()
    plan = plan_image(engine, config, 'requirements.lock', lock)
    with tempfile.TemporaryDirectory() as tmp:
        print('cold build vs docker build ...', flush=True)
        cold, docker_build = bench_cold_build(engine, plan, tmp)
        print('warm repro run vs docker run ...', flush=True)
        ours, bare = bench_warm_run(engine, plan, args.reps, tmp)
    print('reuse decision, repro --help ...', flush=True)
    reuse = bench_reuse(engine, config, lock)
    help_time = bench_help()
    rows = [
        ('Warm `repro run` ÷ bare `docker run` (trivial launcher)',
         f'{ours / bare:.2f} ({ours:.2f} s ÷ {bare:.2f} s, median of {args.reps})', '≤ 1.3'),
        ('Reuse decision (key computed, image found)', f'{reuse * 1e3:.1f} ms (median of 20)',
         '≤ 100 ms'),
        ('Cold build ÷ `docker build --no-cache` of the rendered Dockerfile',
         f'{cold / docker_build:.2f} ({cold:.1f} s ÷ {docker_build:.1f} s)', '≤ 1.1'),
        ('`repro --help`', f'{help_time * 1e3:.0f} ms (median of 10)', '≤ 150 ms'),
    ]
    table = '\n'.join(['| measure | result | goal |', '|---|---|---|',
                       *(f'| {a} | {b} | {c} |' for a, b, c in rows)])
    print(table)
    if args.write:
        pathlib.Path(args.write).write_text(
            '# Benchmarks: repro run and the image builder\n\nProduced by '
            f'`python bench/run.py --reps {args.reps}` on a 2-core CPU machine with a local '
            'Docker Engine.\n\n' + table + '\n')


if __name__ == '__main__':
    main()
