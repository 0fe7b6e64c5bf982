#!/usr/bin/env python3
"""Replay fidelity (issue #5): each training example run once under
`repro run`, then replayed three times; every replay must say REPRODUCED.

    python bench/replay.py [--replays 3] [--epochs 5]

examples/resume_training.py is left out: it continues another run's saved
directory, so it has no standalone run to replay.
"""
import argparse
import os
import subprocess
import tempfile

from common import REPRO, ROOT, table

EXAMPLES = ('cartpole_cem', 'cartpole_vpg')


def replay_example(example, home, replays, epochs):
    env = dict(os.environ, REPRO_HOME=home)
    run = subprocess.run(REPRO + ['run', f'examples/{example}.py', '--seed', '0', '--',
                                  '--n-epochs', str(epochs)], cwd=ROOT, env=env,
                         capture_output=True, text=True, check=True)
    run_id = run.stdout.strip().splitlines()[-1].split()[1]
    verdicts = []
    for _ in range(replays):
        result = subprocess.run(REPRO + ['replay', run_id], cwd=ROOT, env=env,
                                capture_output=True, text=True)
        verdicts.append(result.stdout.strip().splitlines()[-1].split(':')[0]
                        if result.stdout.strip() else f'error: {result.stderr.strip()}')
    return verdicts


def rows(replays=3, epochs=5):
    out = []
    with tempfile.TemporaryDirectory(prefix='repro-bench-replay-') as home:
        for example in EXAMPLES:
            print(f'replaying {example} {replays} times ...', flush=True)
            verdicts = replay_example(example, home, replays, epochs)
            good = verdicts.count('REPRODUCED')
            out.append((f'Replay fidelity, examples/{example}.py ({epochs} epochs, seed 0)',
                        f'{good}/{replays} REPRODUCED' + (
                            '' if good == replays else f' ({", ".join(verdicts)})'),
                        f'{replays}/{replays}', good == replays))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--replays', type=int, default=3)
    parser.add_argument('--epochs', type=int, default=5)
    args = parser.parse_args()
    print(table(rows(args.replays, args.epochs)))


if __name__ == '__main__':
    main()
