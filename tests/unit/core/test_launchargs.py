from repro.execute.launchargs import expand_seed, seed_conflicts


def test_seed_token_is_replaced_anywhere_in_an_argument():
    args = ['--seed', '{seed}', '--seed={seed}', 'run-{seed}/{seed}', '--env', 'CartPole']
    assert expand_seed(args, 3) == ['--seed', '3', '--seed=3', 'run-3/3', '--env', 'CartPole']


def test_doubled_braces_and_other_braces_stay_literal():
    args = ['{{seed}}', '{"lr": 1e-3}', '{seeds}', '{}', 'x{seed']
    assert expand_seed(args, 7) == ['{seed}', '{"lr": 1e-3}', '{seeds}', '{}', 'x{seed']


def test_expansion_does_not_change_the_input():
    args = ['{seed}']
    assert expand_seed(args, 1) == ['1'] and args == ['{seed}']


def test_a_different_seed_flag_is_a_one_line_warning():
    (warning,) = seed_conflicts(['--env', 'x', '--seed', '7'], 0)
    assert warning == ('the script gets --seed 7 but repro records seed 0; '
                       'pass --seed {seed}')
    (warning,) = seed_conflicts(['--seed=7'], 0)
    assert 'gets --seed=7' in warning and 'pass --seed={seed}' in warning
    assert '\n' not in warning


def test_matching_or_expanded_seeds_do_not_warn():
    assert seed_conflicts(['--seed', '{seed}', '--seed={seed}'], 5) == []
    assert seed_conflicts(['--seed', '5', '--seed=05'], 5) == []
    assert seed_conflicts(['--seeds', '9', '-s', '9', '--seed'], 5) == []


def test_random_seed_spellings_and_non_numbers_warn():
    warnings = seed_conflicts(['--random-seed', '1', '--random_seed=2', '--seed', 'abc'], 0)
    assert [w.split(' but ')[0] for w in warnings] == [
        'the script gets --random-seed 1', 'the script gets --random_seed=2',
        'the script gets --seed abc']


def test_flags_after_a_bare_double_dash_are_positional():
    assert seed_conflicts(['--', '--seed', '9'], 0) == []


def test_warnings_escape_control_characters():
    (warning,) = seed_conflicts(['--seed=\x1b[31m'], 0)
    assert '\x1b' not in warning and '\\x1b' in warning
