import pytest

from repro.audit.pairing import pair, structure_key


@pytest.mark.parametrize('a, b', [
    ('runs/CartPole-v1__ppo__1__1732412345/events.out.tfevents.1732412345.repro.1.0',
     'runs/CartPole-v1__ppo__1__1732499999/events.out.tfevents.1732499999.repro.1.0'),
    ('ckpt_1732412345123.pt', 'ckpt_1732499999999.pt'),                 # Unix ms
    ('log_2026-11-24T02:10:00.123Z.txt', 'log_2026-11-25T09:33:02.5+01:00.txt'),
    ('PPO_2026-11-24_02-10-00/result.json', 'PPO_2026-11-25_09-33-02/result.json'),
    ('exp_20261124-021000/x', 'exp_20261125-093302/x'),
    ('exp_20261124T021000/x', 'exp_20261125T093302/x'),
    ('outputs/2026-11-24/02-10-00/a.csv', 'outputs/2026-11-25/09-33-02/a.csv'),  # hydra
    ('experiment_2026_11_24_02_10_00_0001/p.csv', 'experiment_2026_11_25_09_33_02_0001/p.csv'),
    ('runs/Nov24_02-10-00_repro/e', 'runs/Nov25_09-33-02_repro/e'),   # torch's default
])
def test_time_like_tokens_are_wildcards(a, b):
    assert structure_key(a) == structure_key(b)
    assert pair([a], [b]).pairs == [(a, b)]


@pytest.mark.parametrize('a, b', [
    ('itr_1.pkl', 'itr_2.pkl'),
    ('seed_123456789/p.csv', 'seed_123456788/p.csv'),          # 9 digits: not a time
    ('id_12345678901/p.csv', 'id_12345678902/p.csv'),          # 11 digits: not a time
    ('r_5000000000/p.csv', 'r_5000000001/p.csv'),              # beyond 4e9: not a time
    ('events.out.tfevents.1732412345.repro.1.0', 'events.out.tfevents.1732412345.repro.2.0'),
])
def test_other_digits_are_not_wildcards(a, b):
    found = pair([a], [b])
    assert found.pairs == [] and found.only_original == [a] and found.only_replay == [b]


def test_the_recorded_hostnames_are_wildcards_as_whole_tokens_only():
    a, b = 'runs/Nov24_02-10-00_0123456789ab/x', 'runs/Nov24_02-10-00_repro/x'
    assert pair([a], [b], hostnames=('0123456789ab', 'repro')).pairs == [(a, b)]
    assert pair([a], [b]).pairs == []
    assert structure_key('reproducible.csv', 'repro') == 'reproducible.csv'
    assert structure_key('repro-1.csv', 'repro') == '<host>-1.csv'


def test_an_event_files_time_and_host_fields_pair_even_without_recorded_hostnames():
    """Old runs had a random container id as hostname and did not record it."""
    a = 'tb/events.out.tfevents.1732412345.0123456789ab.1.0'
    b = 'tb/events.out.tfevents.1732499999.repro.1.0'
    assert pair([a], [b]).pairs == [(a, b)]
    assert structure_key('events.out.tfevents.1.my.host.name.42.0.v2') == \
        'events.out.tfevents.<time>.<host>.42.0.v2'


def test_equal_paths_pair_first_and_leftovers_are_unpaired():
    a = ['x_1732412345.csv']
    b = ['x_1732412345.csv', 'x_1732412399.csv']
    found = pair(a, b)
    assert found.pairs == [('x_1732412345.csv', 'x_1732412345.csv')]
    assert found.only_replay == ['x_1732412399.csv'] and found.ambiguous == []


def test_several_entries_with_one_key_are_ambiguous_not_paired_in_order():
    a = ['runs/x__1732412345/e', 'runs/x__1732412399/e', 'only_a.txt']
    b = ['runs/x__1732499999/e', 'runs/x__1732500001/e']
    found = pair(a, b)
    assert found.pairs == [] and found.only_original == ['only_a.txt']
    (group,) = found.ambiguous
    assert group.original == tuple(a[:2]) and group.replay == tuple(b)
    assert str(group) == ('ambiguous pairing: 2 file(s) in the original and 2 in the replay '
                          'match runs/x__<time>/e')
    # one side with two, the other with none: simply unpaired
    assert pair(a[:2], []).only_original == a[:2]


def test_keys_are_displayed_safely():
    group = pair(['d\x1b_1732412345/a', 'd\x1b_1732412346/a'], ['d\x1b_1732412347/a'])
    assert '\x1b' not in str(group.ambiguous[0]) and '\\x1b' in str(group.ambiguous[0])


def test_strftime_microseconds_after_a_dash_are_part_of_the_time():
    """``%Y%m%d-%H%M%S-%f``: a common run-directory name."""
    from repro.audit.pairing import structure_key
    a = structure_key('runs/20261124-171234-301878/loss.csv')
    assert a == structure_key('runs/20261124-171301-974693/loss.csv')
    assert structure_key('runs/itr-301878.csv') != structure_key('runs/itr-974693.csv')
