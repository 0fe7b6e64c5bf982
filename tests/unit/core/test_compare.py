import os

import pytest

from repro.compare import compare_csv, compare_outputs, compare_scalars, pair_files
from repro.log import Logger, TabularInput, TensorBoardOutput
from repro.log.tensorboard import encode_event, parse_events, read_events, tfrecord


def test_pairing_by_structure():
    pairs, only_a, only_b = pair_files(
        ['tb/20261124-0210/events.out.tfevents.17.repro.1.0', 'progress.csv', 'x.txt'],
        ['tb/20261125-0933/events.out.tfevents.18.repro.9.0', 'progress.csv', 'y.txt'])
    assert ('tb/20261124-0210/events.out.tfevents.17.repro.1.0',
            'tb/20261125-0933/events.out.tfevents.18.repro.9.0') in pairs
    assert only_a == ['x.txt'] and only_b == ['y.txt']


def test_csv_first_divergence_names_row_epoch_metric_and_values():
    a = 'Epoch,Loss,Return\n0,0.5,10\n1,0.25,20\n2,0.125,30\n'
    b = 'Epoch,Loss,Return\n0,0.5,10\n1,0.25,20\n2,0.125,31\n'
    diff = compare_csv('progress.csv', a, b)
    assert (diff.where, diff.metric, diff.original, diff.replay) == \
        ('row 2 (epoch 2)', 'Return', '30', '31')
    assert compare_csv('progress.csv', a, a) is None
    assert compare_csv('p.csv', a, b, rtol=0.05) is None


def test_scalars_compare_by_tag_and_step():
    a = {('Loss', 1): 0.5, ('Loss', 2): 0.25}
    assert compare_scalars('ev', a, dict(a)) is None
    diff = compare_scalars('ev', a, {('Loss', 1): 0.5, ('Loss', 2): 0.3})
    assert (diff.where, diff.metric) == ('step 2', 'Loss')


def write_run(root, values, name='tb/run-1795491604'):
    os.makedirs(root / name)
    log, tab = Logger(), TabularInput()
    log.add_output(TensorBoardOutput(str(root / name)))
    for step, value in enumerate(values):
        tab.record('Return', value)
        log.log(tab)
        log.dump_all(step)
    log.remove_all()
    (root / 'progress.csv').write_text('Epoch,Return\n' + ''.join(
        f'{i},{v}\n' for i, v in enumerate(values)))
    (root / 'debug.log').write_text(f'{os.getpid()} wall clock\n')


def test_event_reader_reads_what_the_writer_wrote(tmp_path):
    write_run(tmp_path, [1.0, 2.5])
    (path,) = (tmp_path / 'tb').rglob('events.*')
    assert read_events(path) == [(0, 'Return', 1.0), (1, 'Return', 2.5)]


def test_outputs_reproduced_even_with_timestamped_names(tmp_path):
    a, b = tmp_path / 'a', tmp_path / 'b'
    write_run(a, [1.0, 2.0], 'tb/run-1795491604')
    write_run(b, [1.0, 2.0], 'tb/run-1795499999')
    first, report = compare_outputs(str(a), str(b))
    assert first is None, first
    assert any('not compared' in line and 'debug.log' in line for line in report)


def test_outputs_diverged_reports_the_first_difference(tmp_path):
    a, b = tmp_path / 'a', tmp_path / 'b'
    write_run(a, [1.0, 2.0, 3.0])
    write_run(b, [1.0, 2.0, 3.5])
    first, _ = compare_outputs(str(a), str(b))
    assert first.path == 'progress.csv' and first.metric == 'Return'
    assert 'epoch 2' in first.where


def test_pickles_are_compared_by_bytes_on_the_host_and_by_content_only_when_injected(
        tmp_path):
    import pickle
    a, b = tmp_path / 'a', tmp_path / 'b'
    for root, value in ((a, 1), (b, 2)):
        root.mkdir()
        (root / 'params.pkl').write_bytes(pickle.dumps({'w': value}))
        (root / 'same.pkl').write_bytes(pickle.dumps('same'))
    first, report = compare_outputs(str(a), str(b))
    assert first.path == 'params.pkl' and 'not compared on the host' in first.where
    assert 'identical: same.pkl' in report
    calls = []

    def content(pairs):
        calls.append(pairs)
        return {'params.pkl': "$['w']: 1 != 2"}
    first, report = compare_outputs(str(a), str(b), content=content)
    assert calls == [[('params.pkl', 'params.pkl')]]  # once, only pairs whose bytes differ
    assert str(first) == "params.pkl, content: $['w']: 1 != 2"
    first, report = compare_outputs(str(a), str(b), content=lambda pairs: {'params.pkl': None})
    assert first is None and 'equal content: params.pkl' in report


def test_a_csv_divergence_is_reported_before_a_pickle_one(tmp_path):
    a, b = tmp_path / 'a', tmp_path / 'b'
    write_run(a, [1.0, 2.0])
    write_run(b, [1.0, 2.5])
    (a / 'params.pkl').write_bytes(b'1')
    (b / 'params.pkl').write_bytes(b'2')
    first, _ = compare_outputs(str(a), str(b), content=lambda pairs: {'params.pkl': 'x'})
    assert first.path == 'progress.csv'


def test_csv_with_ragged_rows_or_huge_cells_diverges_without_raising():
    diff = compare_csv('p.csv', 'a,b\n1,2\n', 'a,b\n1,2,3\n')
    assert diff.metric == '(extra)'
    assert compare_csv('p.csv', 'a,b\n1\n', 'a,b\n1,2\n').metric == 'b'
    huge = 'a\n' + 'x' * 200_000 + '\n'  # over csv's field size limit
    assert 'not a readable CSV' in compare_csv('p.csv', 'a\n1\n', huge).where


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
