"""Sweep records: ``<store>/sweeps/<SWEEP_ID>/sweep.json``.

A record lists the members (index, seed, grid point, arguments), the
engine, the image, the Slurm job ids and what a resume needs to run more
members from the same snapshot. Which runs a member has, and how they went,
is in the runs' own manifests (``sweep: {id, index, ...}``), not here: Slurm
tasks on other nodes never write the record (they write the attempt index
beside it, :mod:`repro.store.attempts`, which says where those manifests
are). Only the submitting host writes the record, whole and atomically (a reader sees it before or after a change, never half
of one); it is read back as untrusted input (no links, a size limit, every
field checked).
"""
import datetime
import os
import re
import secrets

from repro.core import safefs
from repro.core._fs import dump_json
from repro.errors import AmbiguousRunError, StoreError, SweepNotFoundError

RECORD = 'sweep.json'
MAX_RECORD = 32 << 20  # 10,000 members of a few hundred bytes each, with room
FORMAT = 1
_ID = re.compile(r'^[0-9]{8}-[0-9]{6}-[A-Za-z0-9_.]{1,40}-[0-9a-f]{4}$')
_STEM = re.compile(r'[^A-Za-z0-9_.]+')


def make_sweep_id(launcher, now=None):
    """A readable, sortable sweep id: ``20261124-193000-train-3fa2``."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    stem = _STEM.sub('_', os.path.splitext(os.path.basename(launcher))[0]) or 'sweep'
    return f'{now:%Y%m%d-%H%M%S}-{stem[:40]}-{secrets.token_hex(2)}'


class SweepStore:
    """The sweeps of one run store."""

    def __init__(self, store):
        self.store = store
        self.root = os.path.join(store.root, 'sweeps')

    def create(self, launcher, record):
        """Write a new sweep's first record; returns its id."""
        self.store.ensure()
        for _ in range(100):
            sweep_id = make_sweep_id(launcher)
            try:
                os.makedirs(self.root, exist_ok=True)
                os.mkdir(os.path.join(self.root, sweep_id))
            except FileExistsError:
                continue
            except OSError as exc:
                raise StoreError(f'cannot create a sweep in {self.root}: {exc.strerror}') \
                    from None
            self.write(sweep_id, {**record, 'format': FORMAT, 'sweep_id': sweep_id})
            return sweep_id
        raise StoreError('could not allocate a unique sweep id')

    def write(self, sweep_id, record):
        try:
            dump_json(os.path.join(self.root, _checked(sweep_id), RECORD), record)
        except OSError as exc:
            raise StoreError(f'cannot write sweep {sweep_id}: {exc.strerror}') from None

    def attempt_index(self, sweep_id):
        """Its :class:`repro.store.attempts.AttemptIndex` (attempts by member)."""
        from repro.store.attempts import AttemptIndex
        return AttemptIndex(os.path.join(self.root, _checked(sweep_id)))

    def ids(self):
        try:
            names = os.listdir(self.root)
        except FileNotFoundError:
            return []
        return sorted(n for n in names if _ID.match(n))

    def resolve(self, ref):
        """The full sweep id for an id or a unique prefix of one."""
        if not isinstance(ref, str) or not re.fullmatch(r'[A-Za-z0-9_.-]+', ref):
            raise SweepNotFoundError(f'not a valid sweep id: {safefs.display(str(ref))}',
                                     'list the sweeps with `repro sweep status`')
        ids = self.ids()
        matches = [i for i in ids if i == ref] or [i for i in ids if i.startswith(ref)]
        if not matches:
            raise SweepNotFoundError(f'no sweep matches {ref!r}',
                                     'list the sweeps with `repro sweep status`')
        if len(matches) > 1:
            raise AmbiguousRunError(f'{ref!r} matches {len(matches)} sweeps',
                                    'give more characters of the id')
        return matches[0]

    def read(self, ref):
        """The record of sweep ``ref`` (an id or prefix), checked."""
        sweep_id = self.resolve(ref)
        record = safefs.read_json(os.path.join(self.root, sweep_id), RECORD, MAX_RECORD)
        problem = _shape_problem(record, sweep_id)
        if problem:
            raise StoreError(f'sweep {sweep_id}: {problem}', 'the record was damaged or forged')
        return record


def _checked(sweep_id):
    if not isinstance(sweep_id, str) or not _ID.match(sweep_id):
        raise SweepNotFoundError(f'not a valid sweep id: {sweep_id!r}')
    return sweep_id


_HEX64 = re.compile(r'[0-9a-f]{64}')
_IMAGE = re.compile(r'sha256:[0-9a-f]{64}')
_TOP = {'launcher': str, 'engine': str, 'created': str, 'seeds': str, 'grid': list,
        'args_written': list, 'threads': int, 'network': bool, 'image': str, 'jobs': list,
        'prepared': dict, 'members': list}


def _strings(value):
    return isinstance(value, list) and all(isinstance(x, str) for x in value)


def _shape_problem(record, sweep_id):
    """What is wrong with a record's shape, or None (pure). Records are read
    back from a store repro does not trust: every field used is checked."""
    if not isinstance(record, dict) or record.get('format') != FORMAT:
        return f'{RECORD} is not a format-{FORMAT} sweep record'
    if record.get('sweep_id') != sweep_id:
        return f'{RECORD} names another sweep'
    for key, kind in _TOP.items():
        value = record.get(key)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            return f'its {key} is missing or malformed'
    if record['engine'] not in ('local', 'slurm') or record['threads'] < 1:
        return 'its engine or thread count is malformed'
    if not _IMAGE.fullmatch(record['image']):
        return 'its image is not an image id'
    if not all(isinstance(j, str) and j.isascii() and j.isdigit() for j in record['jobs']):
        return 'its job ids are malformed'
    if record.get('gpus') is not None and not (
            isinstance(record['gpus'], str) and re.fullmatch(r'all|[0-9]+(,[0-9]+)*',
                                                              record['gpus'])):
        return 'its gpus are malformed'
    if not (_strings(record['args_written']) and _strings(record['grid'])):
        return 'its arguments are malformed'
    prepared = record['prepared']
    if not (isinstance(prepared.get('git'), dict) and isinstance(prepared.get('lock'), dict)
            and isinstance(prepared.get('image'), dict)
            and prepared['image'].get('id') == record['image']
            and isinstance(prepared.get('diff_sha256'), str)
            and _HEX64.fullmatch(prepared['diff_sha256'])):
        return 'its recorded inputs are malformed'
    if record.get('slurm') is not None and not isinstance(record['slurm'], dict):
        return 'its Slurm options are malformed'
    if record.get('runner') is not None and not isinstance(record['runner'], dict):
        return 'its runner is malformed'
    if record.get('attempt_index') not in (None, 1):
        return 'its attempt index is malformed'
    for i, member in enumerate(record['members']):
        if not (isinstance(member, dict) and member.get('index') == i
                and not isinstance(member.get('index'), bool)
                and isinstance(member.get('seed'), int) and not isinstance(member['seed'], bool)
                and isinstance(member.get('name'), str)
                and isinstance(member.get('params'), dict)
                and all(isinstance(k, str) and isinstance(v, str)
                        for k, v in member['params'].items())
                and _strings(member.get('args'))):
            return f'member {i} is malformed'
    return None
