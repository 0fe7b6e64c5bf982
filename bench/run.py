#!/usr/bin/env python3
"""Benchmarks of `repro run` and the image builder (issue #3), side by side.

    python bench/run.py [--reps 5]

(``python bench/all.py`` runs every benchmark and writes docs/BENCHMARKS.md.)

Needs a Docker Engine and the base image (scripts/docker-up).
1. Warm `repro run` of a trivial launcher (image cached) / bare
   `docker run --network none IMAGE python trivial.py` (goal <= 1.3).
2. Deciding that an image can be reused: key computed, image found (<= 100 ms).
3. Cold build of the examples' image / `docker build --no-cache` of the
   rendered Dockerfile for the same lock and wheelhouse (goal <= 1.1).
4. Rebuild after adding one small package to the lock: wheels downloaded
   (goal: only that one), with a fresh cache so every wheel is counted.
5. `repro --help` (goal <= 150 ms); `repro ls` over 1,000 runs (<= 300 ms).
"""
import argparse
import glob
import json
import os
import pathlib
import statistics
import subprocess
import tempfile
import time

from common import REPRO, ROOT, table, timed

from repro.images import dockerfile as df
from repro.record.config import load_config
from repro.engines.dockerengine import DockerEngine
from repro.images.image import LABEL_KEY, ensure_image, plan_image, remove_cached_layers
from repro.images.wheels import Wheelhouse, link_wheelhouse


def trivial_project(tmp):
    from tests.support import git_project, lock_files
    return git_project(pathlib.Path(tmp) / 'trivial',
                       {**lock_files(), 'trivial.py': 'print("hello")\n'})


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
        assert engine.find_image(LABEL_KEY, plan.key)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_cold_build(engine, plan, tmp):
    existing = engine.find_image(LABEL_KEY, plan.key)
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
    from repro.images import closure
    for rel, data in closure.layer_files(closure.runtime_files()):
        path = ctx / 'repro' / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    tag = 'repro-bench:docker-build'
    docker_build = timed(['docker', 'build', '--no-cache', '--network', 'none', '-q',
                          '-t', tag, str(ctx)])
    engine.remove_image(tag)
    return ours, docker_build


def bench_one_package_rebuild(engine, config, tmp):
    """Wheels downloaded by the rebuild after one package joins the lock."""
    from tests.support import small_lock_files
    cache = os.path.join(tmp, 'cache')  # fresh, so every download shows
    counts = []
    for names in (('numpy', 'cloudpickle'), ('numpy', 'cloudpickle', 'farama-notifications')):
        lock = small_lock_files('bench', names)['requirements.lock'].encode()
        plan = plan_image(engine, config, 'requirements.lock', lock)
        existing = engine.find_image(LABEL_KEY, plan.key)
        if existing:
            engine.remove_image(existing)
        before = set(glob.glob(os.path.join(cache, 'wheels', '*', '*.whl')))
        image_id, _ = ensure_image(engine, plan, cache=cache, progress=lambda m: None)
        after = set(glob.glob(os.path.join(cache, 'wheels', '*', '*.whl')))
        counts.append(sorted(os.path.basename(p) for p in after - before))
        engine.remove_image(image_id)
    return counts


def bench_help(reps=10):
    timed(REPRO + ['--help'])
    return statistics.median(timed([str(ROOT / '.venv' / 'bin' / 'repro'), '--help'])
                             for _ in range(reps))


def bench_ls(template_home, tmp, n=1000, reps=5):
    """`repro ls` over a store of ``n`` runs made from real manifests."""
    from repro.store.runs import RunStore
    source = RunStore(template_home)
    manifests = [source.read_manifest(i) for i in source.run_ids()]
    store = RunStore(os.path.join(tmp, 'ls-store')).ensure()
    for k in range(n):
        manifest = dict(manifests[k % len(manifests)])
        run_id = f'20261124-{k // 60:06d}-trivial-s{k}-{k % 65536:04x}'
        manifest['run_id'] = run_id
        os.makedirs(store.run_dir(run_id))
        with open(store.manifest_path(run_id), 'w') as f:  # sealing each is not the point
            f.write(json.dumps(manifest, indent=2, sort_keys=True))
    env = dict(os.environ, REPRO_HOME=store.root)
    ls = [str(ROOT / '.venv' / 'bin' / 'repro'), 'ls']
    out = subprocess.run(ls, env=env, capture_output=True, text=True, check=True).stdout
    assert len(out.splitlines()) == n + 1, 'repro ls did not list every run'
    return statistics.median(timed(ls, env=env) for _ in range(reps))


def rows(reps=5):
    engine = DockerEngine.connect()
    config = load_config(str(ROOT))
    lock = (ROOT / 'requirements.lock').read_bytes()
    plan = plan_image(engine, config, 'requirements.lock', lock)
    with tempfile.TemporaryDirectory(prefix='repro-bench-run-') as tmp:
        print('cold build vs docker build ...', flush=True)
        cold, docker_build = bench_cold_build(engine, plan, tmp)
        print('warm repro run vs docker run ...', flush=True)
        ours, bare = bench_warm_run(engine, plan, reps, tmp)
        print('repro ls over 1,000 runs ...', flush=True)
        ls_time = bench_ls(os.path.join(tmp, 'store'), tmp)
        print('rebuild after adding one package ...', flush=True)
        first, second = bench_one_package_rebuild(engine, config, tmp)
    print('reuse decision, repro --help ...', flush=True)
    reuse = bench_reuse(engine, config, lock)
    help_time = bench_help()
    return [
        ('Warm `repro run` ÷ bare `docker run` (trivial launcher)',
         f'{ours / bare:.2f} ({ours:.2f} s ÷ {bare:.2f} s, median of {reps})', '≤ 1.3',
         ours / bare <= 1.3),
        ('Reuse decision (key computed, image found)', f'{reuse * 1e3:.1f} ms (median of 20)',
         '≤ 100 ms', reuse <= 0.1),
        ('Cold build ÷ `docker build --no-cache` of the rendered Dockerfile',
         f'{cold / docker_build:.2f} ({cold:.1f} s ÷ {docker_build:.1f} s)', '≤ 1.1',
         cold / docker_build <= 1.1),
        ('Rebuild after adding one small package to the lock: wheels downloaded',
         f'{len(second)} ({", ".join(second)}; the first build downloaded {len(first)})',
         'only that wheel', len(second) == 1 and second[0].startswith('farama')),
        ('`repro --help`', f'{help_time * 1e3:.0f} ms (median of 10)', '≤ 150 ms',
         help_time <= 0.15),
        ('`repro ls` with 1,000 runs in the store', f'{ls_time * 1e3:.0f} ms (median of 5)',
         '≤ 300 ms', ls_time <= 0.3),
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--reps', type=int, default=5)
    args = parser.parse_args()
    print(table(rows(args.reps)))


if __name__ == '__main__':
    main()
