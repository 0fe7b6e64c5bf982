"""Names the host and the container agree on, in one place.

``repro run`` (host) and ``repro.runtime`` (inside the image) both read
these; the runtime imports nothing heavy, so neither may this module.
"""
SRC = '/src'                  # the source snapshot, read-only
OUTPUTS = '/repro/run'        # the run's outputs: the only writable mount
HOSTNAME = 'repro'            # fixed, so names that embed it match on replay
# The runtime's report of what it set (seed, flags, torch versions), inside
# the outputs: container-written, so the host reads it as untrusted input.
REPORT = '.repro/determinism.json'
MAX_SEED = 2**32 - 1          # numpy's seed range; beyond it seeds would wrap

ENV_SEED = 'REPRO_SEED'
ENV_DETERMINISTIC = 'REPRO_DETERMINISTIC'
ENV_RUN_ID = 'REPRO_RUN_ID'
ENV_REPORT = 'REPRO_REPORT'
ENV_THREADS = 'REPRO_THREADS'
# What a fixed thread count sets: torch, numpy's BLAS and OpenMP read these at start.
THREAD_VARS = ('OMP_NUM_THREADS', 'MKL_NUM_THREADS', 'OPENBLAS_NUM_THREADS')
CUBLAS_WORKSPACE_CONFIG = ':4096:8'  # what cuBLAS needs to be deterministic


def container_env(seed, run_id, threads=None):
    """The environment of a run's container (pure). ``threads`` fixes the
    thread count of torch and the BLAS (a sweep member's must not depend on
    how many members run beside it)."""
    env = {ENV_SEED: '' if seed is None else str(seed), 'PYTHONHASHSEED': '0',
           'CUBLAS_WORKSPACE_CONFIG': CUBLAS_WORKSPACE_CONFIG, ENV_DETERMINISTIC: '1',
           ENV_RUN_ID: run_id, ENV_REPORT: f'{OUTPUTS}/{REPORT}'}
    if threads is not None:
        env.update({name: str(threads) for name in (ENV_THREADS, *THREAD_VARS)})
    return env
