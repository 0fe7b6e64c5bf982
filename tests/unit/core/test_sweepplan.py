"""A sweep's members from --seeds, --grid and the arguments (pure)."""
import pytest

from repro.errors import ConfigError
from repro.execute.sweep import cpu_slots
from repro.execute.sweepplan import Member, count, member_args, members, parse_grid, \
    parse_seeds


@pytest.mark.parametrize('text, seeds', [('0-3', (0, 1, 2, 3)), ('7', (7,)),
                                         ('1,3,5-6', (1, 3, 5, 6)), (' 2 , 0 ', (2, 0))])
def test_seeds_are_ranges_and_lists_in_order(text, seeds):
    assert parse_seeds(text) == seeds


@pytest.mark.parametrize('text, message', [
    ('', 'an empty item'), ('3-1', 'runs backwards'), ('a', 'is not a seed'),
    ('0,0', 'listed twice'), ('0-2,1', 'listed twice'), (str(2**32), 'above the largest'),
    ('1,,2', 'an empty item'), ('-1', 'is not a seed')])
def test_bad_seeds_are_one_line_errors(text, message):
    with pytest.raises(ConfigError, match=message) as err:
        parse_seeds(text)
    assert '\n' not in str(err.value)


def test_grid_keeps_keys_and_values_in_order():
    assert parse_grid(['lr=1e-3,3e-4', 'batch=32']) == (('lr', ('1e-3', '3e-4')),
                                                         ('batch', ('32',)))


@pytest.mark.parametrize('spec, message', [
    ('lr', 'is not KEY=V1'), ('=1', 'is not KEY=V1'), ('1x=3', 'is not KEY=V1'),
    ('lr=', 'empty value'), ('lr=1,,2', 'empty value'), ('lr=1,1', 'twice'),
    ('seed=1,2', 'reserved'), ('name=a', 'reserved')])
def test_bad_grids_are_one_line_errors(spec, message):
    with pytest.raises(ConfigError, match=message):
        parse_grid([spec])


def test_a_key_given_twice_is_refused():
    with pytest.raises(ConfigError, match='given twice'):
        parse_grid(['lr=1', 'lr=2'])


def test_members_are_grid_points_times_seeds_with_unique_names():
    grid = parse_grid(['lr=a,b', 'bs=1,2'])
    found = members((0, 1, 2), grid)
    assert len(found) == count((0, 1, 2), grid) == 12
    assert [m.index for m in found] == list(range(12))
    assert found[0] == Member(0, 0, (('lr', 'a'), ('bs', '1')))
    assert found[2] == Member(2, 2, (('lr', 'a'), ('bs', '1')))
    assert found[3].params == (('lr', 'a'), ('bs', '2'))
    assert len({m.name for m in found}) == 12 and found[0].name == 'lr=a,bs=1,s0'
    assert members((5,), ()) == (Member(0, 5, ()),)
    with pytest.raises(ConfigError, match='no seeds'):
        members((), grid)


def test_member_args_fill_placeholders_and_append_unused_keys():
    member = Member(3, 7, (('lr', '0.1'), ('bs', '64')))
    assert member_args(['--seed', '{seed}', '--lr={lr}', '--tag', '{name}'], member) == \
        ['--seed', '7', '--lr=0.1', '--tag', 'lr=0.1,bs=64,s7', '--bs', '64']
    # an escaped placeholder is literal text, so the key is still passed
    assert member_args(['{{lr}}', '{"json": 1}'], member) == \
        ['{lr}', '{"json": 1}', '--lr', '0.1', '--bs', '64']


def test_members_are_pinned_only_when_each_gets_its_own_cpus():
    assert cpu_slots(1, 2, cpus=[0, 1]) == ['0', '1']
    assert cpu_slots(2, 2, cpus=[4, 5, 6, 7]) == ['4,5', '6,7']
    assert cpu_slots(2, 2, cpus=[0, 1, 2]) is None
