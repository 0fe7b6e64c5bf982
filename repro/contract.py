"""Names the host and the container agree on, in one place.

``repro run`` (host) and ``repro.runtime`` (inside the image) both read
these; the runtime imports nothing heavy, so neither may this module.
"""
SRC = '/src'                  # the source snapshot, read-only
OUTPUTS = '/repro/run'        # the run's outputs: the only writable mount
# An earlier attempt's outputs, read-only, when a run continues it (a sweep
# member's next attempt); the library copies what it needs into OUTPUTS.
RESUME = '/repro/resume'
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
ENV_RESUME_FROM = 'REPRO_RESUME_FROM'  # set to RESUME when that mount is there
# The runtime's exit code when SIGTERM stopped the launcher (docker stop: a
# cancel or a requeue): 128 + 15, what a shell reports for a SIGTERM death.
# A LocalRunner has then finished its epoch's snapshot-and-dump, or cut the
# epoch short; either way the next attempt resumes from its last snapshot.
EXIT_STOPPED = 143
# What a fixed thread count sets: torch, numpy's BLAS and OpenMP read these at start.
THREAD_VARS = ('OMP_NUM_THREADS', 'MKL_NUM_THREADS', 'OPENBLAS_NUM_THREADS')
CUBLAS_WORKSPACE_CONFIG = ':4096:8'  # what cuBLAS needs to be deterministic


def container_env(seed, run_id, threads=None, resume=False):
    """The environment of a run's container (pure). ``threads`` fixes the
    thread count of torch and the BLAS (a sweep member's must not depend on
    how many members run beside it); ``resume`` says an earlier attempt's
    outputs are mounted at :data:`RESUME`."""
    env = {ENV_SEED: '' if seed is None else str(seed), 'PYTHONHASHSEED': '0',
           'CUBLAS_WORKSPACE_CONFIG': CUBLAS_WORKSPACE_CONFIG, ENV_DETERMINISTIC: '1',
           ENV_RUN_ID: run_id, ENV_REPORT: f'{OUTPUTS}/{REPORT}'}
    if threads is not None:
        env.update({name: str(threads) for name in (ENV_THREADS, *THREAD_VARS)})
    if resume:
        env[ENV_RESUME_FROM] = RESUME
    return env
