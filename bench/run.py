#!/usr/bin/env python3
"""Benchmarks of `repro run` and the image builder (issues #3 and #15), side by side.

    python bench/run.py [--reps 9] [--only warm,phases,reuse,cold,rebuild,help,ls]
                        [--locks small,gym,torch] [--repro-src DIR] [--against DIR]

(``python bench/all.py`` runs every benchmark and writes docs/BENCHMARKS.md.)

Needs a Docker Engine and the base image (scripts/docker-up). Every pair is
measured interleaved (ours, theirs, ours, theirs, …) and reported as
medians, as the machine is shared; the load average is printed with them.
1. Warm `repro run` of a trivial launcher (image present) ÷ bare `docker run
   --rm --network none -v SRC:/src:ro IMAGE python /src/trivial.py` (goal
   ≤ 2.0 and ≤ 0.25 s added). ``phases`` times each step of it inside the
   process (function wrappers; the rest is interpreter start-up and imports).
2. The reuse check: `repro build` with the image present ÷ a cache-hit
   `docker build` of the `--dry-run` Dockerfile (goal ≤ 0.15 s); and the
   decision alone, in-process (key computed, image found).
3. Cold build with empty caches (`REPRO_CACHE` fresh: wheels downloaded,
   venv installed) ÷ `docker build --no-cache --network none` of the
   `--dry-run` Dockerfile with the same wheelhouse: numpy + cloudpickle
   (``small``), + gymnasium (``gym``), this repository's torch lock
   (``torch``); goals ≤ 1.2, ≤ 1.2, ≤ 1.0. Every image is removed after.
4. Rebuild after adding one small package to the lock: wheels downloaded
   (goal: only that one), with a fresh cache so every wheel is counted.
5. `repro --help` (goal ≤ 150 ms); `repro ls` over 1,000 runs (≤ 300 ms).

``--repro-src DIR`` measures the repro of another checkout (say, main's) in
the subprocesses: the before and after figures come from one script.
``--against DIR`` times that checkout's repro too, interleaved with this one
in the same loops (warm run and reuse check): before and after under the
same load. The
checkout's bytecode is compiled first, as ``pip install`` does.
"""
import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

from common import REPRO, ROOT, table, timed

GOALS = {'small': 1.2, 'gym': 1.2, 'torch': 1.0}
PACKAGES = {'small': ('numpy', 'cloudpickle'),
            'gym': ('numpy', 'cloudpickle', 'gymnasium', 'farama-notifications',
                    'typing-extensions')}
# As an installed repro runs: with bytecode (pip compiles it; a session that
# sets PYTHONDONTWRITEBYTECODE would compile every module of every run anew).
ENV = {k: v for k, v in os.environ.items() if k != 'PYTHONDONTWRITEBYTECODE'}
AGAINST = None       # --against DIR
AGAINST_TIMES = {}   # its times, per measure (and the floor's)
# What any `repro build` pays before its own work: Python, the CLI's import,
# and an exit as `repro` makes it (the local engine needs no client import).
FLOOR = 'import typer, gc; gc.freeze()'


def load():
    return os.getloadavg()[0]


def project(tmp, name, lock_files):
    from tests.support import git_project
    return git_project(pathlib.Path(tmp) / name, {**lock_files, 'trivial.py': 'print("hello")\n'})


def lock_files(which):
    from tests.support import lock_files as root_lock, small_lock_files
    if which == 'torch':
        files = root_lock()  # a fresh comment makes its key (not its venv) new
        files['requirements.lock'] = files['requirements.lock'].replace(
            '\n', f'\n# bench {uuid.uuid4().hex}\n', 1)
        return files
    return small_lock_files(f'bench {uuid.uuid4().hex}', PACKAGES[which])


def repro(args, cwd, env):
    result = subprocess.run(REPRO + args, cwd=cwd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f'repro {" ".join(args)} failed: {result.stderr[-2000:]}')
    return result


def built_image(result):
    """The image ID of `repro build`'s last line: 'built|reused ID key=KEY'."""
    return result.stdout.split()[1]


def docker_context(root, env, tmp, wheels_from):
    """The `--dry-run` Dockerfile's build context: the lock, its wheels, the closure."""
    from repro.images import closure
    from repro.images.wheels import Wheelhouse, link_wheelhouse, parse_lock
    ctx = pathlib.Path(tmp) / f'ctx-{uuid.uuid4().hex[:8]}'
    ctx.mkdir()
    (ctx / 'Dockerfile').write_text(repro(['build', '--dry-run'], root, env).stdout)
    lock = (root / 'requirements.lock').read_text()
    (ctx / 'requirements.lock').write_text(lock)
    house = Wheelhouse(wheels_from)
    link_wheelhouse([house.find(hashes) for _n, _v, hashes, _r in parse_lock(lock)],
                    str(ctx / 'wheelhouse'))
    for rel, data in closure.layer_files(closure.runtime_files()):
        path = ctx / 'repro' / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return ctx


def docker_build(ctx, tag, no_cache=True):
    cmd = ['docker', 'build', '-q', '--network', 'none', '-t', tag, str(ctx)]
    return timed(cmd[:2] + (['--no-cache'] if no_cache else []) + cmd[2:])


def rmi(ref):
    subprocess.run(['docker', 'rmi', '-f', ref], capture_output=True)


def bench_warm_run(reps, tmp):
    root = project(tmp, 'trivial', lock_files('small'))
    env = dict(ENV, REPRO_HOME=str(pathlib.Path(tmp) / 'store'))
    image_id = built_image(repro(['build'], root, env))
    repro(['run', 'trivial.py'], root, env)  # warm-up
    bare = ['docker', 'run', '--rm', '--network', 'none', '-v', f'{root}:/src:ro', image_id,
            'python', '/src/trivial.py']
    timed(bare)
    ours, theirs, loads, against = [], [], [], []
    for _ in range(reps):
        ours.append(timed(REPRO + ['run', 'trivial.py'], cwd=root, env=env))
        theirs.append(timed(bare))
        if AGAINST:
            against.append(timed(REPRO + ['run', 'trivial.py'], cwd=root,
                                 env=dict(env, PYTHONPATH=AGAINST)))
        loads.append(load())
    AGAINST_TIMES['warm'] = against
    return statistics.median(ours), statistics.median(theirs), statistics.median(loads), \
        root, env, image_id


PHASES = [('repro.cli', 'main', 'after imports: parse, then the command'),
          ('repro.execute.prepare', 'read_inputs', 'config and lock'),
          ('repro.engines.interface', 'connect_engine', 'engine connect'),
          ('repro.execute.prepare', 'plan', 'image plan (base digest, key)'),
          ('repro.record.gitsource', 'snapshot_source', 'source snapshot (waits for the scan)'),
          ('repro.images.image', 'ensure_image', 'image reuse check'),
          ('repro.store.sourcetree', 'export_files', 'source export check'),
          ('repro.execute.hostinfo', 'host_record', 'host record'),
          ('repro.engines.reaper', 'spawn', 'reaper start'),
          ('repro.engines.dockerengine', 'DockerEngine.run', 'container lifecycle'),
          ('repro.execute.container', '_finalize', 'outputs hashed, manifest'),
          ('repro.execute.container', 'execute', 'run: manifests, container, finalize')]


def phases_child(argv):
    """In a child: time each phase of ``repro ARGV`` (function wrappers); print JSON."""
    import importlib
    start = time.perf_counter()
    import repro.cli
    times = {'imports of repro.cli': time.perf_counter() - start}

    def wrap(owner, name, label):
        fn = getattr(owner, name)

        def timed_call(*args, **kwargs):
            begin = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                times[label] = times.get(label, 0) + time.perf_counter() - begin
        setattr(owner, name, timed_call)
    for module, name, label in PHASES[1:]:
        owner = importlib.import_module(module)
        if '.' in name:
            owner, name = getattr(owner, name.split('.')[0]), name.split('.')[1]
        wrap(owner, name, label)
    begin = time.perf_counter()
    with open(os.devnull, 'w') as sink:
        sys.stdout, sys.stderr = sink, sink
        repro.cli.main(argv)
    times[PHASES[0][2]] = time.perf_counter() - begin
    times['in the process'] = time.perf_counter() - start
    os.write(int(os.environ['BENCH_FD']), json.dumps(times).encode())
    os.close(int(os.environ['BENCH_FD']))
    sys.exit(0)  # and the interpreter's teardown, as the `repro` command has it


def bench_phases(root, env, reps):
    """Median seconds of each phase of a warm run, and the wall time around them."""
    runs = []
    for _ in range(reps):
        read, write = os.pipe()
        begin = time.perf_counter()
        subprocess.run([sys.executable, __file__, '--phases-of', 'run', 'trivial.py'],
                       cwd=root, env=dict(env, BENCH_FD=str(write)), check=True,
                       capture_output=True, pass_fds=(write,))
        wall = time.perf_counter() - begin
        os.close(write)
        with os.fdopen(read) as f:
            times = json.loads(f.read())
        times['wall (process start to exit)'] = wall
        runs.append(times)
    return {k: statistics.median(r.get(k, 0) for r in runs) for k in runs[0]}


def bench_reuse(root, env, tmp, reps=15):
    """`repro build` with the image present ÷ a cache-hit `docker build`."""
    image_id = built_image(repro(['build'], root, env))
    ctx = docker_context(root, env, tmp, os.environ.get('REPRO_CACHE') or str(
        pathlib.Path.home() / '.cache' / 'repro'))
    tag = f'repro-bench:hit-{uuid.uuid4().hex[:8]}'
    docker_build(ctx, tag)  # fills docker's build cache
    ours, theirs, against, floor = [], [], [], []
    try:
        for _ in range(reps):
            ours.append(timed(REPRO + ['build'], cwd=root, env=env))
            theirs.append(docker_build(ctx, tag, no_cache=False))
            floor.append(timed([sys.executable, '-c', FLOOR], cwd=root, env=env))
            if AGAINST:
                against.append(timed(REPRO + ['build'], cwd=root,
                                     env=dict(env, PYTHONPATH=AGAINST)))
        AGAINST_TIMES['reuse'] = against
        AGAINST_TIMES['floor'] = floor
    finally:
        rmi(tag)
    return statistics.median(ours), statistics.median(theirs), image_id


def bench_reuse_decision(root, reps=20):
    from repro.engines.interface import connect_engine
    from repro.images.image import ensure_image, plan_image
    from repro.record.config import load_config
    engine = connect_engine()
    lock = (root / 'requirements.lock').read_bytes()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        plan = plan_image(engine, load_config(str(root)), 'requirements.lock', lock)
        assert not ensure_image(engine, plan, progress=lambda m: None)[1]
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_cold_build(which, reps, tmp):
    """(ours, docker build) medians for one lock, both from scratch each time."""
    root = project(tmp, f'cold-{which}', lock_files(which))
    wheels = pathlib.Path(tmp) / f'wheels-{which}'
    env = dict(ENV, REPRO_HOME=str(pathlib.Path(tmp) / 'store'), REPRO_CACHE=str(wheels))
    first = built_image(repro(['build'], root, env))  # the wheels, for docker's context
    rmi(first)
    ctx = docker_context(root, env, tmp, str(wheels))
    ours, theirs, loads = [], [], []
    for rep in range(reps):
        cache = pathlib.Path(tmp) / f'cache-{which}-{rep}'
        env['REPRO_CACHE'] = str(cache)
        start = time.perf_counter()
        image_id = built_image(repro(['build'], root, env))
        ours.append(time.perf_counter() - start)
        rmi(image_id)
        tag = f'repro-bench:cold-{uuid.uuid4().hex[:8]}'
        theirs.append(docker_build(ctx, tag))
        rmi(tag)
        loads.append(load())
    return statistics.median(ours), statistics.median(theirs), statistics.median(loads)


def bench_one_package_rebuild(tmp):
    """Wheels downloaded by the rebuild after one package joins the lock."""
    import glob
    from tests.support import small_lock_files
    cache = os.path.join(tmp, 'cache')  # fresh, so every download shows
    env = dict(ENV, REPRO_HOME=os.path.join(tmp, 'store'), REPRO_CACHE=cache)
    counts = []
    for names in (('numpy', 'cloudpickle'), ('numpy', 'cloudpickle', 'farama-notifications')):
        root = project(tmp, f'rebuild-{len(names)}', small_lock_files(
            f'bench {uuid.uuid4().hex}', names))
        before = set(glob.glob(os.path.join(cache, 'wheels', '*', '*.whl')))
        rmi(built_image(repro(['build'], root, env)))
        after = set(glob.glob(os.path.join(cache, 'wheels', '*', '*.whl')))
        counts.append(sorted(os.path.basename(p) for p in after - before))
    return counts


def bench_help(reps=10):
    timed(REPRO + ['--help'], env=ENV)
    return statistics.median(timed(REPRO + ['--help'], env=ENV) for _ in range(reps))


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
    env = dict(ENV, REPRO_HOME=store.root)
    out = subprocess.run(REPRO + ['ls'], env=env, capture_output=True, text=True,
                         check=True).stdout
    assert len(out.splitlines()) == n + 1, 'repro ls did not list every run'
    return statistics.median(timed(REPRO + ['ls'], env=env) for _ in range(reps))


def rows(reps=9, only=('warm', 'phases', 'reuse', 'cold', 'rebuild', 'help', 'ls'),
         locks=('small', 'gym', 'torch'), cold_reps=3):
    found = []
    with tempfile.TemporaryDirectory(prefix='repro-bench-run-') as tmp:
        if 'cold' in only:
            for which in locks:
                print(f'cold build vs docker build ({which}) ...', flush=True)
                ours, theirs, avg = bench_cold_build(which, 2 if which == 'torch' else cold_reps,
                                                     tmp)
                names = 'this repository\'s torch lock' if which == 'torch' else \
                    ' + '.join(PACKAGES[which][:3])
                found.append((f'Cold build ÷ `docker build --no-cache --network none` ({names})',
                              f'{ours / theirs:.2f} ({ours:.1f} s ÷ {theirs:.1f} s, median; '
                              f'load {avg:.1f})', f'≤ {GOALS[which]}',
                              ours / theirs <= GOALS[which]))
        if {'warm', 'phases', 'reuse', 'ls'} & set(only):
            print('warm repro run vs docker run ...', flush=True)
            ours, bare, avg, root, env, warm_image = bench_warm_run(reps, tmp)
            if 'warm' in only:
                found.append(('Warm `repro run` ÷ bare `docker run --rm` (trivial launcher)',
                              f'{ours / bare:.2f} ({ours:.2f} s ÷ {bare:.2f} s, +{ours - bare:.2f} '
                              f's, median of {reps}; load {avg:.1f})', '≤ 2.0 and ≤ +0.25 s',
                              ours / bare <= 2.0 and ours - bare <= 0.25))
                if AGAINST:
                    other = statistics.median(AGAINST_TIMES['warm'])
                    found.append((f'The same, the repro at {AGAINST} (interleaved)',
                                  f'{other / bare:.2f} ({other:.2f} s, +{other - bare:.2f} s)',
                                  '(before)', None))
            if 'phases' in only:
                print('phases of a warm run ...', flush=True)
                for label, seconds in bench_phases(root, env, reps).items():
                    found.append((f'Warm run phase: {label}', f'{seconds * 1e3:.0f} ms',
                                  '(breakdown)', None))
            if 'reuse' in only:
                print('reuse check vs cache-hit docker build ...', flush=True)
                ours, theirs, _ = bench_reuse(root, env, tmp)
                found.append(('Reuse check: `repro build` with the image present (÷ cache-hit '
                              '`docker build`)', f'{ours * 1e3:.0f} ms ({ours / theirs:.2f} × '
                              f'{theirs * 1e3:.0f} ms, median of 15)', '≤ 150 ms', ours <= 0.15))
                floor = statistics.median(AGAINST_TIMES['floor'])
                found.append(('The same, its floor: `python -c "import typer"` '
                              '(interleaved)', f'{floor * 1e3:.0f} ms', '(reference)', None))
                if AGAINST:
                    other = statistics.median(AGAINST_TIMES['reuse'])
                    found.append((f'The same, the repro at {AGAINST} (interleaved)',
                                  f'{other * 1e3:.0f} ms', '(before)', None))
                if 'PYTHONPATH' not in ENV:  # in-process: this checkout's repro only
                    decision = bench_reuse_decision(root)
                    found.append(('Reuse decision in-process (key computed, image found)',
                                  f'{decision * 1e3:.1f} ms (median of 20)', '≤ 100 ms',
                                  decision <= 0.1))
            if 'ls' in only:
                print('repro ls over 1,000 runs ...', flush=True)
                ls_time = bench_ls(env['REPRO_HOME'], tmp)
                found.append(('`repro ls` with 1,000 runs in the store',
                              f'{ls_time * 1e3:.0f} ms (median of 5)', '≤ 300 ms', ls_time <= 0.3))
            rmi(warm_image)
        if 'rebuild' in only:
            print('rebuild after adding one package ...', flush=True)
            first, second = bench_one_package_rebuild(tmp)
            found.append(('Rebuild after adding one small package to the lock: wheels downloaded',
                          f'{len(second)} ({", ".join(second)}; the first build downloaded '
                          f'{len(first)})', 'only that wheel',
                          len(second) == 1 and second[0].startswith('farama')))
    if 'help' in only:
        help_time = bench_help()
        found.append(('`repro --help`', f'{help_time * 1e3:.0f} ms (median of 10)', '≤ 150 ms',
                      help_time <= 0.15))
    return found


def main():
    if sys.argv[1:2] == ['--phases-of']:
        if os.environ.get('PYTHONPATH'):  # --repro-src: its repro, not this checkout's
            sys.path.insert(0, os.environ['PYTHONPATH'].split(os.pathsep)[0])
        return phases_child(sys.argv[2:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--reps', type=int, default=9)
    parser.add_argument('--cold-reps', type=int, default=3)
    parser.add_argument('--only', default='warm,phases,reuse,cold,rebuild,help,ls')
    parser.add_argument('--locks', default='small,gym,torch')
    parser.add_argument('--repro-src', help='a checkout whose repro the subprocesses run')
    parser.add_argument('--against', help='a checkout whose repro is timed too, interleaved')
    args = parser.parse_args()
    if args.against:
        global AGAINST
        AGAINST = str(pathlib.Path(args.against).resolve())
        subprocess.run([sys.executable, '-m', 'compileall', '-q', f'{AGAINST}/repro'],
                       check=True, env=ENV)
    if args.repro_src:
        ENV['PYTHONPATH'] = str(pathlib.Path(args.repro_src).resolve())
    src = pathlib.Path(ENV.get('PYTHONPATH') or ROOT) / 'repro'
    subprocess.run([sys.executable, '-m', 'compileall', '-q', str(src)], check=True, env=ENV)
    print(table(rows(args.reps, args.only.split(','), args.locks.split(','), args.cold_reps)))
    return 0


if __name__ == '__main__':
    sys.exit(main())
