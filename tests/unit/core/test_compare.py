import io
import json
import os
import pickle
import zipfile

import numpy as np
import pytest

from repro.audit.compare import compare_csv, compare_outputs, compare_scalars, pair_files
from repro.log import Logger, TabularInput, TensorBoardOutput
from repro.log.tensorboard import encode_event, parse_events, read_events, tfrecord
from repro.core.timing import TimingRules

ONE_ULP = float(np.nextafter(0.1, 1.0))  # 0.1 plus one unit in the last place
F32_ULP = float(np.nextafter(np.float32(0.5), np.float32(1.0)))


def test_pair_files_keeps_its_shape_for_diff_and_leaves_other_digits_alone():
    pairs, only_a, only_b = pair_files(
        ['tb/run-1795491604/events.out.tfevents.1795491604.repro.1.0', 'progress.csv',
         'itr_1.pkl'],
        ['tb/run-1795499999/events.out.tfevents.1795499999.repro.1.0', 'progress.csv',
         'itr_2.pkl'])
    assert ('tb/run-1795491604/events.out.tfevents.1795491604.repro.1.0',
            'tb/run-1795499999/events.out.tfevents.1795499999.repro.1.0') in pairs
    assert only_a == ['itr_1.pkl'] and only_b == ['itr_2.pkl']


def test_csv_first_divergence_names_row_epoch_metric_values_and_difference():
    a = 'Epoch,Loss,Return\n0,0.5,10\n1,0.25,20\n2,0.125,30\n'
    b = 'Epoch,Loss,Return\n0,0.5,10\n1,0.25,20\n2,0.125,31\n'
    (diff,) = compare_csv('progress.csv', a, b).divergences
    assert (diff.where, diff.metric, diff.original, diff.replay, diff.step, diff.difference) \
        == ('row 2 (epoch 2)', 'Return', '30', '31', 2, 1)
    assert str(diff) == ("progress.csv, row 2 (epoch 2), metric Return: '30' != '31' "
                         "(difference 1)")
    same = compare_csv('progress.csv', a, a)
    assert same.divergences == [] and same.compared == 3
    assert compare_csv('p.csv', a, b, rtol=0.05).divergences == []


def test_a_one_ulp_change_in_a_learned_csv_value_diverges():
    a = f'step,loss\n0,{0.1!r}\n'
    b = f'step,loss\n0,{ONE_ULP!r}\n'
    (diff,) = compare_csv('p.csv', a, b).divergences
    assert diff.metric == 'loss' and diff.difference == ONE_ULP - 0.1 != 0


def test_each_diverged_column_is_reported_once_at_its_first_row():
    a = 'a,b\n1,1\n2,2\n3,3\n'
    b = 'a,b\n1,1\n9,2\n9,9\n'
    found = compare_csv('p.csv', a, b).divergences
    assert [(d.metric, d.step) for d in found] == [('a', 1), ('b', 2)]
    found = compare_csv('p.csv', a, a + '4,4\n').divergences
    assert [(d.where, d.original, d.replay) for d in found] == [('row count', 3, 4)]


def test_timing_columns_are_listed_with_ranges_not_compared():
    a = 'global_step,charts/SPS,time/total_timesteps\n1,800,128\n2,1040,256\n'
    b = 'global_step,charts/SPS,time/total_timesteps\n1,790,128\n2,1101,256\n'
    result = compare_csv('p.csv', a, b)
    assert result.divergences == [] and result.compared == 2
    (timing,) = result.timing
    assert (timing.name, timing.original, timing.replay) == \
        ('charts/SPS', (800.0, 1040.0), (790.0, 1101.0))
    assert str(timing) == ('timing, not compared: charts/SPS (original 800\u20131040, '
                           'replay 790\u20131101) in p.csv')
    strict = compare_csv('p.csv', a, b, timing=TimingRules(compare_all=True))
    assert [d.metric for d in strict.divergences] == ['charts/SPS']
    # time/total_timesteps is a step counter, so it is compared
    (diff,) = compare_csv('p.csv', a, b.replace(',256', ',257')).divergences
    assert diff.metric == 'time/total_timesteps'


def test_scalars_compare_by_tag_and_step_and_a_float32_ulp_diverges():
    a = {('loss', 1): 0.5, ('loss', 2): 0.25, ('charts/SPS', 1): 100.0}
    same = compare_scalars('ev', a, {**a, ('charts/SPS', 1): 120.0})
    assert same.divergences == [] and same.compared == 1 and len(same.timing) == 1
    (diff,) = compare_scalars('ev', a, {**a, ('loss', 2): 0.3}).divergences
    assert (diff.where, diff.metric, diff.step) == ('step 2', 'loss', 2)
    assert 'tag loss' in str(diff)
    (diff,) = compare_scalars('ev', a, {**a, ('loss', 1): F32_ULP}).divergences
    assert diff.difference == F32_ULP - 0.5 > 0
    (diff,) = compare_scalars('ev', a, {k: v for k, v in a.items() if k != ('loss', 2)}) \
        .divergences
    assert (diff.metric, diff.original, diff.replay) == ('loss', 0.25, None)


def write_run(root, values, name='tb/run-1795491604'):
    os.makedirs(root / name)
    log, tab = Logger(), TabularInput()
    log.add_output(TensorBoardOutput(str(root / name)))
    for step, value in enumerate(values):
        tab.record('Return', value)
        log.log(tab)
        log.dump_all(step)
    log.remove_all()
    (path,) = (root / name).glob('events.*')  # as a replay names it: same pid and counter
    path.rename(root / name / 'events.out.tfevents.1795491604.repro.1.0')
    (root / 'progress.csv').write_text('Epoch,Return\n' + ''.join(
        f'{i},{v}\n' for i, v in enumerate(values)))
    (root / 'debug.log').write_text(f'{os.getpid()} wall clock\n')


def test_event_reader_reads_what_the_writer_wrote(tmp_path):
    write_run(tmp_path, [1.0, 2.5])
    (path,) = (tmp_path / 'tb').rglob('events.*')
    assert read_events(path) == [(0, 'Return', 1.0), (1, 'Return', 2.5)]


def events(*records):
    """Event-file bytes: (wall_time, step, {tag: value}) records."""
    return b''.join(tfrecord(encode_event(w, s, scalars=v)) for w, s, v in records)


def cleanrl_run(root, start, host, sps, last_return=10.0, model_time=(2026, 11, 24, 2, 10, 0)):
    """A run shaped like cleanrl's: a run dir named with int(time.time()), an SPS
    scalar, the host in the event file's name, and a model saved with zipfile."""
    run = root / 'outputs' / 'runs' / f'CartPole-v1__ppo__1__{start}'
    run.mkdir(parents=True)
    (run / f'events.out.tfevents.{start}.{host}.1.0').write_bytes(events(
        (start + 1.5, 1, {'charts/episodic_return': 9.0, 'charts/SPS': sps}),
        (start + 2.5, 2, {'charts/episodic_return': last_return, 'charts/SPS': sps * 2})))
    with zipfile.ZipFile(root / 'outputs' / 'model.zip', 'w') as zf:
        zf.writestr(zipfile.ZipInfo('weights.bin', model_time), b'\x01\x02')
    (root / 'logs').mkdir()
    (root / 'logs' / 'stdout.log').write_text(f'SPS: {sps}\n')
    (root / 'manifest.json').write_text(json.dumps({'start': start}))


def test_a_cleanrl_style_run_reproduces_despite_time_host_sps_and_zip_dates(tmp_path):
    a, b = tmp_path / 'a', tmp_path / 'b'
    cleanrl_run(a, 1732412345, '0123456789ab', 800.0)
    cleanrl_run(b, 1732499999, 'repro', 950.0, model_time=(2026, 11, 25, 9, 33, 2))
    result = compare_outputs(str(a), str(b), hostnames=(None, 'repro'))
    assert result.reproduced and result.verdict == 'REPRODUCED', result.divergences
    assert result.compared == 2  # episodic_return and one zip member
    assert any(line.startswith('timing, not compared: charts/SPS (original 800\u20131600, '
                               'replay 950\u20131900)') for line in result.report)
    assert 'equal members: outputs/model.zip' in result.report
    assert 'not compared (wall-clock content): logs/stdout.log' in result.report
    json.dumps(result.to_json(), allow_nan=False)


def test_true_divergences_in_a_cleanrl_style_run_are_still_caught(tmp_path):
    a, b, c = tmp_path / 'a', tmp_path / 'b', tmp_path / 'c'
    cleanrl_run(a, 1732412345, 'repro', 800.0)
    cleanrl_run(b, 1732499999, 'repro', 950.0, last_return=float(np.float32(ONE_ULP)))
    cleanrl_run(c, 1732412345, 'repro', 800.0, last_return=float(np.float32(ONE_ULP)))
    result = compare_outputs(str(a), str(b))
    assert result.verdict == 'DIVERGED' and len(result.divergences) == 1
    first = result.first
    assert (first.metric, first.step, first.label) == ('charts/episodic_return', 2, 'tag')
    assert first.path.startswith('outputs/runs/CartPole-v1__ppo__1__1732412345/')
    assert first.difference == pytest.approx(float(np.float32(ONE_ULP)) - 10.0)
    assert compare_outputs(str(a), str(c)).first.metric == 'charts/episodic_return'


def test_one_changed_member_byte_diverges_and_names_the_member(tmp_path):
    a, b = tmp_path / 'a', tmp_path / 'b'
    cleanrl_run(a, 1732412345, 'repro', 800.0)
    cleanrl_run(b, 1732412345, 'repro', 800.0)
    with zipfile.ZipFile(b / 'outputs' / 'model.zip', 'w') as zf:
        zf.writestr(zipfile.ZipInfo('weights.bin', (2027, 1, 1, 0, 0, 0)), b'\x01\x03')
    (first,) = compare_outputs(str(a), str(b)).divergences
    assert (first.path, first.metric, first.label) == ('outputs/model.zip', 'weights.bin',
                                                        'member')
    assert 'member bytes differ' in str(first)


def test_an_extra_or_a_missing_file_diverges(tmp_path):
    a, b = tmp_path / 'a', tmp_path / 'b'
    write_run(a, [1.0, 2.0])
    write_run(b, [1.0, 2.0])
    (b / 'extra.txt').write_text('x')
    (first,) = compare_outputs(str(a), str(b)).divergences
    assert (first.path, first.where) == ('extra.txt', 'only in the replay')
    (first,) = compare_outputs(str(b), str(a)).divergences
    assert (first.path, first.where) == ('extra.txt', 'missing from the replay')


def test_an_ambiguous_pairing_diverges_and_says_why(tmp_path):
    a, b = tmp_path / 'a', tmp_path / 'b'
    for root, times in ((a, (1732412345, 1732412399)), (b, (1732499999, 1732500001))):
        for t in times:
            (root / f'runs/x__{t}').mkdir(parents=True)
            (root / f'runs/x__{t}/log.txt').write_text('same')
    result = compare_outputs(str(a), str(b))
    (first,) = result.divergences
    assert first.where == ('ambiguous pairing: 2 file(s) in the original and 2 in the replay '
                           'match runs/x__<time>/log.txt')
    assert sum(line.startswith('DIVERGED (ambiguous pairing): ') for line in result.report) == 4


def test_logs_alone_are_nothing_compared_not_reproduced(tmp_path):
    a, b = tmp_path / 'a', tmp_path / 'b'
    for root, text in ((a, '0.1'), (b, '0.7')):
        (root / 'logs').mkdir(parents=True)
        (root / 'logs' / 'stdout.log').write_text(text)
        (root / 'outputs' / '.repro').mkdir(parents=True)
        (root / 'outputs' / '.repro' / 'determinism.json').write_text('{}')
        (root / 'outputs' / 'metadata.json').write_text(text)
        (root / 'meta').mkdir()
        (root / 'meta' / 'source.diff').write_text('')
    result = compare_outputs(str(a), str(b))
    assert result.nothing_compared and not result.reproduced and result.compared == 0
    assert result.to_json()['verdict'] == 'NOTHING COMPARED'
    (a / 'outputs' / 'w.npy').write_bytes(b'1')
    (b / 'outputs' / 'w.npy').write_bytes(b'1')
    assert compare_outputs(str(a), str(b)).reproduced


def test_the_json_verdict_has_the_documented_shape(tmp_path):
    a, b = tmp_path / 'a', tmp_path / 'b'
    write_run(a, [1.0, 2.0, 3.0])
    write_run(b, [1.0, 2.0, 3.5])
    data = json.loads(json.dumps(compare_outputs(str(a), str(b)).to_json(), allow_nan=False))
    assert set(data) == {'verdict', 'compared', 'divergence_count', 'first_divergence',
                         'divergences', 'timing', 'report'}
    assert data['verdict'] == 'DIVERGED' and data['divergence_count'] == 2
    assert data['first_divergence'] == {
        'file': 'progress.csv', 'where': 'row 2 (epoch 2)', 'metric': 'Return',
        'label': 'metric', 'step': 2, 'original': '3.0', 'replay': '3.5', 'difference': 0.5,
        'text': "progress.csv, row 2 (epoch 2), metric Return: '3.0' != '3.5' "
                "(difference 0.5)"}
    assert data['divergences'][1]['file'].startswith('tb/run-1795491604/events.out.tfevents.')


def test_pickles_are_compared_by_bytes_on_the_host_and_by_content_only_when_injected(
        tmp_path):
    a, b = tmp_path / 'a', tmp_path / 'b'
    for root, value in ((a, 1), (b, 2)):
        root.mkdir()
        (root / 'params.pkl').write_bytes(pickle.dumps({'w': value}))
        (root / 'same.pkl').write_bytes(pickle.dumps('same'))
    result = compare_outputs(str(a), str(b))
    assert result.first.path == 'params.pkl' and 'not compared on the host' in result.first.where
    assert 'identical: same.pkl' in result.report
    calls = []

    def content(pairs):
        calls.append(pairs)
        return {('params.pkl', 'params.pkl'): "$['w']: 1 != 2"}
    result = compare_outputs(str(a), str(b), content=content)
    assert calls == [[('params.pkl', 'params.pkl')]]  # once, only pairs whose bytes differ
    assert str(result.first) == "params.pkl, content: $['w']: 1 != 2"
    result = compare_outputs(str(a), str(b), content=lambda pairs: dict.fromkeys(pairs))
    assert result.reproduced and 'equal content: params.pkl' in result.report


def test_a_pickle_member_of_an_archive_goes_to_content_with_its_member_name(tmp_path):
    a, b = tmp_path / 'a', tmp_path / 'b'
    for root, value in ((a, 1), (b, 2)):
        root.mkdir()
        buf = io.BytesIO()
        np.savez(buf, w=np.arange(3))
        with zipfile.ZipFile(root / 'agent.zip', 'w') as zf:
            zf.writestr('data.pkl', pickle.dumps({'w': value}))
            zf.writestr('arrays.npz', buf.getvalue())
    asked = []

    def content(pairs):
        asked.extend(pairs)
        return {p: None for p in pairs}
    result = compare_outputs(str(a), str(b), content=content)
    assert asked == [('agent.zip', 'agent.zip', 'data.pkl')] and result.reproduced
    result = compare_outputs(str(a), str(b), content=lambda pairs: dict.fromkeys(pairs, 'x'))
    assert str(result.first) == 'agent.zip, member data.pkl, content: x'


def test_a_csv_divergence_is_reported_before_a_pickle_one(tmp_path):
    a, b = tmp_path / 'a', tmp_path / 'b'
    write_run(a, [1.0, 2.0])
    write_run(b, [1.0, 2.5])
    (a / 'params.pkl').write_bytes(b'1')
    (b / 'params.pkl').write_bytes(b'2')
    result = compare_outputs(str(a), str(b), content=lambda pairs: dict.fromkeys(pairs, 'x'))
    assert [d.path for d in result.divergences] == [
        'progress.csv', 'tb/run-1795491604/events.out.tfevents.1795491604.repro.1.0',
        'params.pkl']


def test_csv_with_ragged_rows_or_huge_cells_diverges_without_raising():
    (diff,) = compare_csv('p.csv', 'a,b\n1,2\n', 'a,b\n1,2,3\n').divergences
    assert diff.metric == '(extra)'
    assert compare_csv('p.csv', 'a,b\n1\n', 'a,b\n1,2\n').divergences[0].metric == 'b'
    huge = 'a\n' + 'x' * 200_000 + '\n'  # over csv's field size limit
    assert 'not a readable CSV' in compare_csv('p.csv', 'a\n1\n', huge).divergences[0].where


def test_event_parser_refuses_malformed_files_with_value_errors_only():
    good = tfrecord(encode_event(1.0, 3, scalars={'loss': 0.5}))
    assert parse_events(good) == [(3, 'loss', 0.5)]
    bad_tag = tfrecord(encode_event(1.0, 3, scalars={'\xff': 0.5}).replace(b'\xc3\xbf', b'\xff\xfe'))
    for data in (good[:-3], good[:10], good + b'\0', b'\xff' * 40, bad_tag,
                 tfrecord(b'\x2a\x05\x0a\x03\x0a\x01'), tfrecord(b'\xff' * 20)):
        with pytest.raises(ValueError):
            parse_events(data)


def test_event_reader_reads_torch_summary_writer_files(tmp_path):
    pytest.importorskip('tensorboard')
    tb = pytest.importorskip('torch.utils.tensorboard')
    writer = tb.SummaryWriter(str(tmp_path))
    for step in range(3):
        writer.add_scalar('loss', 1.0 / (step + 1), step)
    writer.close()
    (path,) = tmp_path.glob('events.*')
    assert [(s, t) for s, t, _ in read_events(path)] == [(0, 'loss'), (1, 'loss'), (2, 'loss')]
    assert read_events(path)[1][2] == pytest.approx(0.5)


def test_the_image_side_reads_a_pickle_member_and_answers_one_line_per_pair(tmp_path, capsys):
    """What ``python -m repro.contentcheck`` does inside the image (run here on
    pickles this test wrote)."""
    from repro.contentcheck import MARKER, compare_pair
    for side, value in (('a', 1), ('b', 2)):
        (tmp_path / side).mkdir()
        with zipfile.ZipFile(tmp_path / side / 'm.zip', 'w') as zf:
            zf.writestr('data.pkl', pickle.dumps({'w': value}))
        (tmp_path / side / 'p.pkl').write_bytes(pickle.dumps([1.5]))
    a, b = str(tmp_path / 'a'), str(tmp_path / 'b')
    assert compare_pair(a, b, 'm.zip', 'm.zip', 'data.pkl') == "$['w']: 1 != 2"
    assert 'cannot unpickle the original' in compare_pair(a, b, 'm.zip', 'm.zip', 'nope.pkl')
    line = run_contentcheck(a, b, [['p.pkl', 'p.pkl'], ['m.zip', 'm.zip', 'data.pkl']])
    assert line == f'{MARKER} ' + json.dumps([None, "$['w']: 1 != 2"])


def run_contentcheck(a, b, pairs):
    """The last stdout line of ``python -m repro.contentcheck`` (it rewires
    its own file descriptors, so it runs in a process of its own)."""
    import subprocess
    import sys
    out = subprocess.run([sys.executable, '-m', 'repro.contentcheck', a, b,
                          json.dumps(pairs)], capture_output=True, text=True, timeout=60,
                         check=True).stdout
    return out.strip().splitlines()[-1]


HOOK = """
import sys
for name in ('__main__', 'repro.contentcheck'):
    module = sys.modules.get(name)
    if module is not None:
        module.compare_pair = lambda *args, **kwargs: None
"""


class Hook:
    """Unpickling this runs code that tries to make every later pair "equal"."""

    def __reduce__(self):
        return (exec, (HOOK,))


def test_one_pickle_cannot_change_how_the_others_are_compared(tmp_path):
    for side, value in (('a', 1), ('b', 2)):
        (tmp_path / side).mkdir()
        (tmp_path / side / 'a_hook.pkl').write_bytes(pickle.dumps([Hook(), side]))
        (tmp_path / side / 'b_weights.pkl').write_bytes(pickle.dumps({'w': value}))
    line = run_contentcheck(str(tmp_path / 'a'), str(tmp_path / 'b'),
                            [['a_hook.pkl', 'a_hook.pkl'], ['b_weights.pkl', 'b_weights.pkl']])
    assert json.loads(line.split(' ', 1)[1])[1] == "$['w']: 1 != 2"


def test_a_zip_saved_under_a_pickle_name_is_compared_by_members_not_unpickled(tmp_path):
    """torch.save writes a zip, whatever the file is called."""
    a, b = tmp_path / 'a', tmp_path / 'b'
    for root, date, data in ((a, (2026, 1, 1, 0, 0, 0), b'1'), (b, (2026, 1, 1, 0, 0, 2), b'1')):
        root.mkdir()
        with zipfile.ZipFile(root / 'model.pkl', 'w') as zf:
            zf.writestr(zipfile.ZipInfo('archive/data/0', date), data)

    def content(pairs):
        raise AssertionError(f'asked {pairs}')
    result = compare_outputs(str(a), str(b), content=content)
    assert result.reproduced and 'equal members: model.pkl' in result.report
