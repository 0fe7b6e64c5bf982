"""``[tool.repro]`` in pyproject.toml, with defaults that work without it.

    [tool.repro]
    base = "repro-base:bookworm"   # local tag or registry reference
    python = "3.11"                # the base image's python3 version
    template = "cpu"               # "cpu" or "cuda" (templates/Dockerfile.*)
    env = { OMP_NUM_THREADS = "1" } # extra environment baked into the image
    replay.timing = ["perf/*"]     # more wall-clock metrics replay must not compare
    signing_key = "~/.config/repro/keys/repro-signing.key"  # REPRO_SIGNING_KEY wins

    [tool.repro.slurm]             # repro sweep --engine slurm
    partition = "gpu"
    time = "04:00:00"
    cpus_per_task = 4
    gres = "gpu:1"
    python = "/shared/venv/bin/python"   # repro on the nodes (default: this one)
    warn_seconds = 300             # the requeue warning before the time limit
    extra = ["#SBATCH --qos=normal", "module load cuda"]   # lines added as written
"""
import dataclasses
import os
import re
import tomllib

from repro.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class ImageConfig:
    base: str = 'repro-base:bookworm'
    python: str = '3.11'
    template: str = 'cpu'
    env: tuple = ()


def _section(project_root):
    """``[tool.repro]`` of the project's pyproject.toml ({} if absent)."""
    path = os.path.join(project_root, 'pyproject.toml')
    section = {}
    if os.path.exists(path):
        with open(path, 'rb') as f:
            try:
                data = tomllib.load(f)
            except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
                raise ConfigError(f'pyproject.toml is not valid TOML: {exc}') from None
        tool = data.get('tool', {})
        section = tool.get('repro', {}) if isinstance(tool, dict) else None
        if not isinstance(section, dict):
            raise ConfigError('[tool.repro] in pyproject.toml must be a table')
    unknown = set(section) - {'base', 'python', 'template', 'env', 'replay', 'slurm',
                             'signing_key'}
    if unknown:
        raise ConfigError(f'unknown [tool.repro] key(s): {", ".join(sorted(unknown))}',
                          'valid: base, python, template, env, replay, slurm, signing_key')
    return section


def replay_timing(project_root):
    """``[tool.repro] replay.timing``: globs of extra wall-clock metrics."""
    replay = _section(project_root).get('replay', {})
    timing = replay.get('timing', []) if isinstance(replay, dict) else None
    if not isinstance(replay, dict) or set(replay) - {'timing'} or not isinstance(
            timing, list) or not all(isinstance(g, str) and g for g in timing):
        raise ConfigError('[tool.repro] replay must be a table with timing = ["glob", ...]')
    return tuple(timing)


SLURM_KEYS = {'partition': str, 'time': str, 'cpus_per_task': int, 'gres': str,
              'python': str, 'warn_seconds': int, 'extra': list}
_SLURM_VALUE = re.compile(r'[A-Za-z0-9_:.,=/+@-]+')


def slurm_options(project_root, overrides=None):
    """``[tool.repro.slurm]`` with ``overrides`` (flags) on top, checked: a
    value goes into the batch script, so it must be one plain word."""
    section = _section(project_root).get('slurm', {})
    if not isinstance(section, dict):
        raise ConfigError('[tool.repro] slurm must be a table')
    return check_slurm_options(
        {**section, **{k: v for k, v in (overrides or {}).items() if v is not None}})


def check_slurm_options(options):
    """``options`` if every key and value is one the batch script may hold (pure)."""
    for key, value in options.items():
        kind = SLURM_KEYS.get(key)
        if kind is None:
            raise ConfigError(f'unknown [tool.repro.slurm] key {key!r}',
                              'valid: ' + ', '.join(sorted(SLURM_KEYS)))
        if not isinstance(value, kind) or isinstance(value, bool):
            raise ConfigError(f'[tool.repro.slurm] {key} must be a {kind.__name__}')
        if kind is str and not _SLURM_VALUE.fullmatch(value):
            raise ConfigError(f'[tool.repro.slurm] {key} = {value!r} is not one plain word')
        if kind is int and value < 1:
            raise ConfigError(f'[tool.repro.slurm] {key} must be at least 1')
        if kind is list and not all(isinstance(x, str) and '\n' not in x and '\r' not in x
                                    for x in value):
            raise ConfigError('[tool.repro.slurm] extra must be a list of one-line strings')
    return options


SIGNING_KEY_ENV = 'REPRO_SIGNING_KEY'


def signing_key(project_root=None):
    """The signing key's path: ``REPRO_SIGNING_KEY``, else ``[tool.repro]
    signing_key`` (relative to the project, ``~`` expanded); None if neither."""
    if os.environ.get(SIGNING_KEY_ENV):
        return os.path.expanduser(os.environ[SIGNING_KEY_ENV])
    if project_root is None:
        return None
    value = _section(project_root).get('signing_key')
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise ConfigError('[tool.repro] signing_key must be the path of a private key file')
    return os.path.join(project_root, os.path.expanduser(value))


def load_config(project_root):
    """The project's image configuration (defaults if absent)."""
    section = _section(project_root)
    env = section.get('env', {})
    if not isinstance(env, dict) or not all(
            re.fullmatch(r'[A-Za-z_][A-Za-z0-9_]*', k) and isinstance(v, str)
            for k, v in env.items()):
        raise ConfigError('[tool.repro] env must map NAME = "value" strings')
    config = ImageConfig(base=section.get('base', ImageConfig.base),
                         python=str(section.get('python', ImageConfig.python)),
                         template=section.get('template', ImageConfig.template),
                         env=tuple(sorted(env.items())))
    if not isinstance(config.base, str) or not re.fullmatch(r'[A-Za-z0-9][\w.:/@+-]*',
                                                            config.base):
        raise ConfigError(f'[tool.repro] base must be an image reference, got {config.base!r}')
    if config.template not in ('cpu', 'cuda'):
        raise ConfigError(f'[tool.repro] template must be "cpu" or "cuda", got {config.template!r}')
    if not re.fullmatch(r'3\.\d+', config.python):
        raise ConfigError(f'[tool.repro] python must look like "3.11", got {config.python!r}')
    return config
