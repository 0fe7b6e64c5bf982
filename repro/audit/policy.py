"""Audit policies: declarative rules checked against a signed statement.

Pure but for :func:`load`, which reads the auditor's policy file.

A policy is a TOML file of top-level rules (README, Audit)::

    require_clean_tree = true
    require_network_off = true
    require_deterministic = true
    allowed_base_digests = ["sha256:cc7c4abc…"]
    require_lock_hashes = true
    max_age_days = 30
    require_replayed = true

Rules read only the statement whose signature was checked, never the
manifest, so a policy holds for what the key holder vouched for. An unknown
rule is an error (a misspelt rule must not pass silently); a rule set to
false is not checked.
"""
import dataclasses
import datetime
import math
import re
import tomllib

from repro import contract
from repro.core.safefs import display
from repro.errors import ConfigError

RULES = ('require_clean_tree', 'require_network_off', 'require_deterministic',
         'allowed_base_digests', 'require_lock_hashes', 'max_age_days', 'require_replayed')
FLAGS = tuple(r for r in RULES if r.startswith('require_'))
_DIGEST = re.compile(r'(sha256:)?[0-9a-f]{64}')
CLOCK_SKEW = datetime.timedelta(minutes=5)
MAX_POLICY = 1 << 20


@dataclasses.dataclass(frozen=True)
class Result:
    rule: str
    passed: bool
    detail: str

    def __str__(self):
        return f'{"pass" if self.passed else "FAIL"}  {self.rule}: {self.detail}'


def parse(text, where='policy'):
    """The rules a policy file states, checked: {rule: value}; ConfigError if bad."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f'{where} is not valid TOML: {exc}') from None
    unknown = sorted(set(data) - set(RULES))
    if unknown:
        raise ConfigError(f'{where}: unknown rule {display(unknown[0])!r}',
                          f'rules: {", ".join(RULES)}')
    for rule in FLAGS:
        if rule in data and not isinstance(data[rule], bool):
            raise ConfigError(f'{where}: {rule} must be true or false')
    digests = data.get('allowed_base_digests')
    if digests is not None and not (isinstance(digests, list) and digests and all(
            isinstance(d, str) and _DIGEST.fullmatch(d) for d in digests)):
        raise ConfigError(f'{where}: allowed_base_digests must be a list of "sha256:<64 hex>"')
    age = data.get('max_age_days')
    if age is not None and (isinstance(age, bool) or not isinstance(age, (int, float))
                            or not math.isfinite(age) or age <= 0):
        raise ConfigError(f'{where}: max_age_days must be a number of days above 0')
    rules = {k: v for k, v in data.items() if v is not False}
    if not rules:
        raise ConfigError(f'{where} states no rules', f'rules: {", ".join(RULES)}')
    return rules


def load(path):
    """The rules of the policy file at ``path`` (given by the auditor)."""
    try:
        with open(path, encoding='utf-8') as f:
            text = f.read(MAX_POLICY + 1)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f'cannot read the policy {display(path)}: '
                          f'{getattr(exc, "strerror", None) or exc}') from None
    if len(text) > MAX_POLICY:
        raise ConfigError(f'the policy {display(path)} is too large (a few rules are bytes)')
    return parse(text, display(path))


def _dependency(statement, name=None, annotation=None):
    for dep in statement['predicate']['buildDefinition']['resolvedDependencies']:
        if dep.get('name') == name or annotation in (dep.get('annotations') or {}):
            return dep
    raise KeyError(name or annotation)


def _params(statement, kind):
    return statement['predicate']['buildDefinition'][kind]


def clean_tree(statement, _value, _context):
    source = _dependency(statement, 'source')
    commit, tree = source['digest'].get('gitCommit'), source['digest']['gitTree']
    if source['annotations']['dirty'] is not False:
        return False, f'the source had uncommitted changes (tree {tree[:12]})'
    if not commit:
        return False, f'no commit recorded (tree {tree[:12]})'
    return True, f'committed, clean tree at commit {commit[:12]}'


def network_off(statement, _value, _context):
    network = _params(statement, 'externalParameters')['network']
    return network is False, 'networking was off' if network is False else 'networking was on'


def deterministic(statement, _value, _context):
    seed = _params(statement, 'externalParameters')['seed']
    internal = _params(statement, 'internalParameters')
    env, record = internal['env'], internal['determinism']
    checks = [(seed is not None, 'no seed was set'),
              (env.get(contract.ENV_DETERMINISTIC) == '1',
               f'{contract.ENV_DETERMINISTIC} was not 1'),
              (env.get('PYTHONHASHSEED') == '0', 'PYTHONHASHSEED was not 0'),
              (env.get('CUBLAS_WORKSPACE_CONFIG') == contract.CUBLAS_WORKSPACE_CONFIG,
               'CUBLAS_WORKSPACE_CONFIG was not set'),
              (record.get('deterministic') is True, 'the runtime did not report '
                                                    'deterministic mode')]
    torch = record.get('torch')
    if isinstance(torch, str) and torch[:1].isdigit():  # imported: its flags count
        checks += [(record.get('torch_deterministic_algorithms') is True,
                    'torch deterministic algorithms were off'),
                   (record.get('cudnn_deterministic') is True, 'cuDNN was not deterministic'),
                   (record.get('cudnn_benchmark') is False, 'cuDNN benchmark mode was on')]
    failed = [why for ok, why in checks if not ok]
    if failed:
        return False, failed[0]
    return True, f'seed {seed}, deterministic flags on' + (f' (torch {torch})' if torch and
                                                            torch[:1].isdigit() else '')


def base_allowed(statement, allowed, _context):
    digest = 'sha256:' + _dependency(statement, 'base-image')['digest']['sha256']
    allowed = {d if d.startswith('sha256:') else f'sha256:{d}' for d in allowed}
    if digest in allowed:
        return True, f'base image {digest[:19]}… is allowed'
    return False, f'base image {digest} is not in allowed_base_digests'


def lock_hashes(statement, _value, _context):
    lock = _dependency(statement, annotation='hashed')
    name = display(lock['name'])
    if lock['annotations']['hashed'] is True:
        return True, f'{name} pins every requirement by sha256'
    if lock['annotations']['hashed'] is None:
        return False, f'the statement does not say whether {name} pins hashes (an older repro)'
    return False, f'{name} does not pin every requirement by sha256'


def max_age(statement, days, context):
    metadata = statement['predicate']['runDetails']['metadata']
    stamp = metadata.get('finishedOn') or metadata['startedOn']
    when = datetime.datetime.fromisoformat(stamp.replace('Z', '+00:00'))
    if when.tzinfo is None:
        raise ValueError('no time zone')
    age = context['now'] - when
    if age < -CLOCK_SKEW:
        return False, f'dated in the future ({stamp})'
    shown = f'{age.total_seconds() / 86400:.1f} days'
    if age > datetime.timedelta(days=days):
        return False, f'{shown} old, more than {days}'
    return True, f'{shown} old (at most {days})'


def replayed(statement, _value, context):
    run_id = statement['predicate']['runDetails']['metadata']['invocationId']
    seen = []
    for replay_id, replay in context['replays']():
        internal = _params(replay, 'internalParameters')
        if internal.get('replay_of') != run_id:
            continue
        if internal.get('replay_verdict') == 'REPRODUCED':
            return True, f'signed replay {replay_id} REPRODUCED it'
        seen.append(f'{replay_id} ({internal.get("replay_verdict") or "no verdict"})')
    if seen:
        return False, f'no signed replay REPRODUCED it: {", ".join(seen[:3])}'
    return False, 'no replay of it signed by this key'


CHECKS = {'require_clean_tree': clean_tree, 'require_network_off': network_off,
          'require_deterministic': deterministic, 'allowed_base_digests': base_allowed,
          'require_lock_hashes': lock_hashes, 'max_age_days': max_age,
          'require_replayed': replayed}


def evaluate(rules, statement, now, replays=lambda: ()):
    """One :class:`Result` per rule, in the policy's order.

    ``now`` is an aware datetime; ``replays()`` gives (run id, verified
    statement) for the replays signed by the same key, asked only when
    ``require_replayed`` is a rule. A statement that lacks what a rule reads
    fails that rule.
    """
    context = {'now': now, 'replays': replays}
    results = []
    for rule, value in rules.items():
        try:
            passed, detail = CHECKS[rule](statement, value, context)
        except (KeyError, TypeError, AttributeError, ValueError, IndexError):
            passed, detail = False, 'the signed statement does not record what this rule reads'
        results.append(Result(rule, passed, detail))
    return results
