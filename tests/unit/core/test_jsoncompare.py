"""JSON outputs by content: wall-clock fields skipped, learned values compared,
serialized pickles decoded without running them."""
import base64
import json
import os
import pickle
from collections import deque

from repro.core.jsoncompare import collapse, difference, load, plain_pickle
from repro.core.timing import TimingRules


def sb3_like(start_time, address, elapsed, last_obs=0.25):
    """The shape of stable-baselines3's ``data`` member."""
    episodes = deque([{'r': 15.0, 'l': 15, 't': elapsed}, {'r': 40.0, 'l': 40, 't': elapsed + 1}],
                     maxlen=100)
    return json.dumps({
        'start_time': start_time, 'num_timesteps': 2048, 'seed': 1,
        'policy_class': {'__init__': f'<function ActorCriticPolicy.__init__ at {address}>'},
        'ep_info_buffer': {':serialized:': base64.b64encode(pickle.dumps(episodes)).decode()},
        '_last_obs': {':serialized:': base64.b64encode(pickle.dumps([last_obs, 1.5])).decode()},
    }).encode()


def compare(a, b):
    timed = []
    return difference(load(a), load(b), TimingRules(), timed=timed), collapse(timed)


def test_clock_addresses_and_episode_times_are_not_compared():
    found, timed = compare(sb3_like(1795539340678406862, '0x7fbfe2c78cc0', 0.19),
                           sb3_like(1795539349352472180, '0x7fb8ede04cc0', 0.27))
    assert found is None
    assert timed == ['$.ep_info_buffer.:serialized:<pickle>.items[*].t', '$.start_time']


def test_learned_values_are_still_compared_to_the_last_bit():
    base = sb3_like(1, '0x1', 0.1)
    nudged = sb3_like(1, '0x1', 0.1, last_obs=float.fromhex('0x1.0000000000001p-2'))
    found, _ = compare(base, nudged)
    assert found and '_last_obs' in found and '0.25' in found
    changed = json.loads(sb3_like(1, '0x1', 0.1))
    changed['num_timesteps'] = 2049
    assert '$.num_timesteps: 2048 != 2049' == compare(base, json.dumps(changed).encode())[0]


def test_episode_returns_inside_the_buffer_are_compared():
    a = pickle.dumps(deque([{'r': 15.0, 'l': 15, 't': 0.1}]))
    b = pickle.dumps(deque([{'r': 16.0, 'l': 15, 't': 0.1}]))
    found = difference(plain_pickle(a), plain_pickle(b), TimingRules())
    assert found == "$.items[0].r: 15.0 != 16.0"


def test_a_serialized_pickle_is_decoded_without_running_it(tmp_path):
    sentinel = tmp_path / 'pwned'

    class Evil:
        def __reduce__(self):
            return (os.system, (f'touch {sentinel}',))
    a = {':serialized:': base64.b64encode(pickle.dumps(Evil())).decode()}
    b = {':serialized:': base64.b64encode(pickle.dumps([Evil(), 1])).decode()}
    found = difference(a, b, TimingRules())
    assert found and not sentinel.exists()


class Custom:
    """Pickled with NEWOBJ: more than plain data."""


def test_pickles_beyond_plain_data_are_compared_by_their_text():
    a = {':serialized:': base64.b64encode(pickle.dumps(Custom(), protocol=2)).decode()}
    b = {':serialized:': base64.b64encode(pickle.dumps(Custom(), protocol=2) + b'.').decode()}
    assert difference(a, b, TimingRules()) == '$.:serialized:: the serialized values differ'
    assert difference(a, a, TimingRules()) is None


def test_only_json_objects_and_lists_are_loaded():
    assert load(b'{"a": 1}') == {'a': 1} and load(b'[1]') == [1]
    assert load(b'1') is None and load(b'\xff{') is None and load(b'{"a": ') is None


def test_keys_and_lengths_must_match():
    assert 'on one side only' in difference({'a': 1}, {'b': 1}, TimingRules())
    assert '1 items != 2 items' in difference([1], [1, 2], TimingRules())
    assert difference({'x': True}, {'x': 1}, TimingRules()) == '$.x: True != 1'


def test_a_timing_looking_group_is_entered_not_skipped():
    """``time`` holds counters as well as clocks: only leaves are skipped."""
    a = {'time': {'total_timesteps': 1000, 'fps': 50}, 'loss': 1.0}
    b = {'time': {'total_timesteps': 2000, 'fps': 70}, 'loss': 1.0}
    assert difference(a, b, TimingRules()) == '$.time.total_timesteps: 1000 != 2000'
    timed = []
    b['time']['total_timesteps'] = 1000
    assert difference(a, b, TimingRules(), timed=timed) is None and timed == ['$.time.fps']


def test_hostile_numbers_and_nesting_are_differences_not_crashes():
    assert 'x' in difference({'x': 1.5}, {'x': int('9' * 400)}, TimingRules())
    deep_a = deep_b = 0
    for _ in range(5000):
        deep_a, deep_b = [deep_a], [deep_b]
    assert difference(deep_a, deep_b, TimingRules()) == '$: nested too deeply to compare'
