"""The in-container entry point: ``python -m repro.runtime LAUNCHER [ARGS…]``.

Seeds every generator and sets the deterministic flags from the environment
``repro run`` passes (REPRO_SEED, REPRO_DETERMINISTIC), records what was set
for the manifest, then runs the launcher as ``__main__`` with its arguments
verbatim. Needs only the library's light dependencies.
"""
import json
import os
import runpy
import sys

META_DIR = '/repro/meta'


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv:
        print('usage: python -m repro.runtime LAUNCHER [ARGS...]', file=sys.stderr)
        return 2
    launcher, args = argv[0], argv[1:]
    from repro.experiment import deterministic
    record = {}
    if os.environ.get('REPRO_SEED') not in (None, ''):
        record = deterministic.set_seed(
            int(os.environ['REPRO_SEED']),
            deterministic=os.environ.get('REPRO_DETERMINISTIC', '1') != '0')
    sys.argv = [launcher, *args]
    sys.path.insert(0, os.path.dirname(os.path.abspath(launcher)))
    try:
        runpy.run_path(launcher, run_name='__main__')
    finally:
        # At the end, so torch's flags are included if the launcher imported it.
        _write_record(deterministic.get_determinism_record() if record else {})
    return 0


def _write_record(record):
    meta_dir = os.environ.get('REPRO_META_DIR', META_DIR)
    if os.path.isdir(meta_dir):
        with open(os.path.join(meta_dir, 'determinism.json'), 'w') as f:
            json.dump(record, f, indent=2, sort_keys=True)


if __name__ == '__main__':
    sys.exit(main())
