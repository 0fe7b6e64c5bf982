"""Sweep records: ``<store>/sweeps/<SWEEP_ID>/sweep.json``.

A record lists the members (index, seed, grid point, run id, status), the
engine, the image and what a resume needs to run more members from the same
snapshot. It is rewritten whole and atomically after every change, so a
reader sees the record before or after a change, never half of one; it is
read back as untrusted input (no links, a size limit, checked shape).
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
                                     'list sweeps with `repro sweep status`')
        ids = self.ids()
        matches = [i for i in ids if i == ref] or [i for i in ids if i.startswith(ref)]
        if not matches:
            raise SweepNotFoundError(f'no sweep matches {ref!r}',
                                     'list sweeps with `repro sweep status`')
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


def _shape_problem(record, sweep_id):
    """What is wrong with a record's shape, or None (pure)."""
    if not isinstance(record, dict) or record.get('format') != FORMAT:
        return f'{RECORD} is not a format-{FORMAT} sweep record'
    if record.get('sweep_id') != sweep_id:
        return f'{RECORD} names another sweep'
    members = record.get('members')
    if not isinstance(members, list):
        return 'its member list is missing'
    for i, member in enumerate(members):
        if not (isinstance(member, dict) and member.get('index') == i
                and isinstance(member.get('seed'), int)
                and isinstance(member.get('params'), dict)
                and all(isinstance(k, str) and isinstance(v, str)
                        for k, v in member['params'].items())
                and isinstance(member.get('args'), list)
                and all(isinstance(a, str) for a in member['args'])
                and (member.get('run_id') is None or isinstance(member['run_id'], str))):
            return f'member {i} is malformed'
    return None
