import pytest

from repro.errors import ConfigError
from repro.core.timing import Timing, TimingRules, value_range

RULES = TimingRules()


@pytest.mark.parametrize('name', [
    'fps', 'FPS', 'time/fps', 'charts/SPS', 'sps', 'env_sps', 'steps_per_second',
    'train/env_steps_per_sec', 'time/time_elapsed', 'time_elapsed', 'walltime', 'wall_time',
    'Time', 'EpochTime', 'ItrTime', 'sample_time', 'time_this_iter_s', 'time_total_s',
    'time_since_restore', 'timers/learn_time_ms', 'timers/training_iteration_time_ms',
    'num_env_steps_sampled_throughput_per_sec', 'timestamp', 'timing/update_speed',
    'timing/total_time', 'perf/cpu_util_percent', 'sampler_perf/mean_env_wait_ms', 'date',
])
def test_wall_clock_quantities_are_timing(name):
    assert RULES.is_timing(name)


@pytest.mark.parametrize('name', [
    'time/total_timesteps', 'time/iterations', 'time/episodes', 'timers/num_updates',
    'rollout/ep_rew_mean', 'rollout/ep_len_mean', 'charts/episodic_return',
    'charts/learning_rate', 'losses/value_loss', 'train/n_updates', 'global_step',
    'TotalEnvSteps', 'AverageReturn', 'Iteration', 'Epoch', 'timesteps_total',
    'timesteps_since_restore', 'training_iteration', 'episodes_this_iter', 'loss',
])
def test_learned_quantities_and_step_counters_are_compared(name):
    assert not RULES.is_timing(name)


def test_extra_globs_extend_the_list_and_compare_all_turns_it_off():
    rules = TimingRules(extra_globs=('charts/learning_rate', 'my_clock*'))
    assert rules.is_timing('charts/learning_rate') and rules.is_timing('eval/my_clock_x')
    assert not rules.is_timing('charts/episodic_return')
    assert not TimingRules(extra_globs=('x',), compare_all=True).is_timing('charts/SPS')
    assert not TimingRules(compare_all=True).is_timing('x')


@pytest.mark.parametrize('bad', ['', '  ', None, 3])
def test_an_invalid_glob_is_a_config_error(bad):
    with pytest.raises(ConfigError, match='invalid timing glob'):
        TimingRules(extra_globs=(bad,))


def test_ranges_and_their_text():
    assert value_range(['3', '1.5', '', 'nan', None, 'x', 2]) == (1.5, 3.0)
    assert value_range(['', None]) is None
    timing = Timing('p.csv', 'SPS', (1.0, 2.5), None)
    assert str(timing) == 'timing, not compared: SPS (original 1\u20132.5, replay -) in p.csv'
    assert timing.to_json() == {'file': 'p.csv', 'metric': 'SPS',
                                'original': {'min': 1.0, 'max': 2.5}, 'replay': None}
