"""Seeding and the state of every random generator an experiment touches.

``set_seed`` seeds Python's ``random``, numpy's global generator, torch's CPU
generator and every CUDA device, and by default turns on deterministic
kernels (cuDNN deterministic, benchmark off, ``torch.use_deterministic_algorithms``
and ``CUBLAS_WORKSPACE_CONFIG=:4096:8``). On a GPU this costs some speed, as
the seed page warns; on a CPU it costs close to nothing (see bench/).

``get_rng_state``/``set_rng_state`` capture and restore all generators so a
snapshot can continue a run exactly where it stopped. Neither numpy nor
torch is imported just to be seeded: each is seeded when it is first
imported (numpy's import alone costs a script that prints a line more than
its whole run), before any code can draw from it.
"""
import contextlib
import importlib.util
import os
import random
import sys

from repro.contract import CUBLAS_WORKSPACE_CONFIG  # noqa: F401 (public name)
_MAX_SEED = 2 ** 32

_seed = None
_deterministic = True
_record = {}


def _torch():
    """torch if it has been imported, else None.

    Importing torch costs seconds; a launcher that never uses it should not
    pay that. If torch is imported after set_seed, the import hook below
    seeds it and sets its flags at that moment, before any user code runs.
    """
    return sys.modules.get('torch')


def _seed_torch(torch):
    """Seed torch and set its deterministic flags from the current settings."""
    torch.manual_seed(_seed)  # also seeds every CUDA device, lazily
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(_seed)
    torch.backends.cudnn.deterministic = _deterministic
    torch.backends.cudnn.benchmark = False
    torch.use_deterministic_algorithms(_deterministic)
    _record.update({
        'torch': torch.__version__,
        'torch_cuda_devices': torch.cuda.device_count() if torch.cuda.is_available() else 0,
        'cudnn_deterministic': torch.backends.cudnn.deterministic,
        'cudnn_benchmark': torch.backends.cudnn.benchmark,
        'torch_deterministic_algorithms': torch.are_deterministic_algorithms_enabled(),
        'cuda_version': torch.version.cuda,
        'cudnn_version': torch.backends.cudnn.version() if torch.cuda.is_available() else None,
    })


def _torch_installed():
    try:
        return importlib.util.find_spec('torch') is not None
    except (ImportError, ValueError):
        return False


def _seed_numpy(numpy):
    numpy.random.seed(_seed)


class _SeedOnImport:
    """One-shot finder: when ``module`` is first imported, seed it right after.
    (A finder needs only ``find_spec``; importlib.abc costs the runtime 13 ms.)"""

    def __init__(self, module, seed):
        self.module, self.seed = module, seed

    def find_spec(self, name, path=None, target=None):
        if name != self.module:
            return None
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module

        def exec_and_seed(module):
            exec_module(module)
            if _seed is not None:
                self.seed(module)
        spec.loader.exec_module = exec_and_seed
        return spec


def _seed_on_import(module, seed):
    if not any(isinstance(f, _SeedOnImport) and f.module == module for f in sys.meta_path):
        sys.meta_path.insert(0, _SeedOnImport(module, seed))


def set_seed(seed, deterministic=True):
    """Seed every global generator and set the deterministic-kernel flags.

    Args:
        seed (int): the experiment seed; reduced modulo 2**32.
        deterministic (bool): also force deterministic torch kernels. Turn it
            off only when GPU speed matters more than bit-for-bit reruns.

    Returns:
        dict: what was set, suitable for metadata.json. If torch is imported
        later, it is seeded then and :func:`get_determinism_record` says so.
    """
    global _seed, _record, _deterministic
    np = sys.modules.get('numpy')  # a numpy integer implies numpy is imported
    if isinstance(seed, bool) or not (isinstance(seed, int) or (
            np is not None and isinstance(seed, np.integer))):
        raise TypeError(f'seed must be an int, got {type(seed).__name__}')
    seed = int(seed) % _MAX_SEED
    _seed, _deterministic = seed, bool(deterministic)
    random.seed(seed)
    if np is not None:
        _seed_numpy(np)
    else:  # seeded at its import, before anything can draw from it
        _seed_on_import('numpy', _seed_numpy)
    _record = {'seed': seed, 'deterministic': _deterministic,
               'python_random': True, 'numpy_global': True,
               'PYTHONHASHSEED': os.environ.get('PYTHONHASHSEED')}
    if deterministic:
        # cuBLAS reads this when its first handle is created, so it must be
        # in the environment before any CUDA matmul.
        os.environ['CUBLAS_WORKSPACE_CONFIG'] = CUBLAS_WORKSPACE_CONFIG
    _record['CUBLAS_WORKSPACE_CONFIG'] = os.environ.get('CUBLAS_WORKSPACE_CONFIG')
    torch = _torch()
    if torch is not None:
        _seed_torch(torch)
    elif _torch_installed():
        _seed_on_import('torch', _seed_torch)
        _record['torch'] = 'seeded when imported'
    return dict(_record)


def get_seed():
    """The seed last given to :func:`set_seed`, or None if none was."""
    return _seed


def get_determinism_record():
    """What the last :func:`set_seed` call set (empty if never called)."""
    return dict(_record)


def derive_seed(seed, *path):
    """An independent 32-bit seed for a component (e.g. worker ``i``).

    ``SeedSequence`` keeps (seed 0, worker 1) and (seed 1, worker 0) apart,
    which ``seed + i`` does not.
    """
    import numpy as np
    entropy = [int(seed) % _MAX_SEED, *(int(p) for p in path)]
    return int(np.random.SeedSequence(entropy).generate_state(1)[0])


def get_rng_state():
    """A picklable copy of every global generator's state."""
    import numpy as np
    state = {'python': random.getstate(), 'numpy': np.random.get_state()}
    torch = _torch()
    if torch is not None:
        state['torch'] = torch.get_rng_state()
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            state['torch_cuda'] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state):
    """Restore generators captured by :func:`get_rng_state`."""
    import numpy as np
    random.setstate(state['python'])
    np.random.set_state(state['numpy'])
    if 'torch' in state:
        import torch  # the state was captured with torch loaded
        torch.set_rng_state(state['torch'])
        if 'torch_cuda' in state and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state['torch_cuda'])


def seeded_rng_state(seed):
    """The generator state :func:`set_seed` would produce, without keeping it."""
    import numpy as np
    with isolated_rng(None) as scope:
        random.seed(seed)
        np.random.seed(seed)
        torch = _torch()
        if torch is not None:
            # CPU generator only: torch.manual_seed would also queue a reseed
            # of every CUDA device and clobber the experiment's CUDA streams.
            torch.random.default_generator.manual_seed(seed)
    return scope.state


class _Scope:
    state = None


@contextlib.contextmanager
def isolated_rng(state):
    """Run a block on its own generator state, leaving the globals untouched.

    Workers use this so each one draws from its own stream: results do not
    depend on whether workers share a process, and a worker's stream can be
    saved in a snapshot. On exit ``scope.state`` holds the advanced state.
    """
    outer = get_rng_state()
    scope = _Scope()
    if state is not None:
        set_rng_state(state)
    try:
        yield scope
    finally:
        scope.state = get_rng_state()
        set_rng_state(outer)
