import struct

import numpy as np
import pytest

from repro.log import Logger, TabularInput, TensorBoardOutput
from repro.log.tensorboard import crc32c, parse_events, tfrecord


def _proto(name):
    """One of tensorboard's own protobuf modules, to write what TF writers write."""
    return pytest.importorskip(f'tensorboard.compat.proto.{name}')


def test_crc32c_matches_the_standard_check_value():
    assert crc32c(b'123456789') == 0xE3069283


def test_tfrecord_frame_layout():
    frame = tfrecord(b'abc')
    assert struct.unpack('<Q', frame[:8])[0] == 3
    assert frame[12:15] == b'abc' and len(frame) == 8 + 4 + 3 + 4


def test_events_read_back_by_tensorboard(tmp_path):
    event_accumulator = pytest.importorskip(
        'tensorboard.backend.event_processing.event_accumulator')
    log, tab = Logger(), TabularInput()
    out = TensorBoardOutput(str(tmp_path), x_axis='TotalEnvSteps')
    log.add_output(out)
    for epoch in range(3):
        tab.record('TotalEnvSteps', 1000 * (epoch + 1))
        tab.record('AverageReturn', 10.5 * epoch)
        tab.record('Loss', -0.25 * epoch)
        tab.record('Name', 'not a scalar')
        log.log(tab)
        log.dump_all(epoch)
    log.remove_all()

    acc = event_accumulator.EventAccumulator(str(tmp_path))
    acc.Reload()
    assert set(acc.Tags()['scalars']) == {'TotalEnvSteps', 'AverageReturn', 'Loss'}
    returns = acc.Scalars('AverageReturn')
    assert [e.step for e in returns] == [1000, 2000, 3000]
    assert [e.value for e in returns] == [0.0, 10.5, 21.0]
    assert [e.value for e in acc.Scalars('Loss')] == [-0.0, -0.25, -0.5]


def test_without_x_axis_the_dump_step_is_used(tmp_path):
    event_accumulator = pytest.importorskip(
        'tensorboard.backend.event_processing.event_accumulator')
    log, tab = Logger(), TabularInput()
    log.add_output(TensorBoardOutput(str(tmp_path)))
    for step in (3, 7):
        tab.record('x', step * 2)
        log.log(tab)
        log.dump_all(step)
    log.remove_all()
    acc = event_accumulator.EventAccumulator(str(tmp_path))
    acc.Reload()
    assert [(e.step, e.value) for e in acc.Scalars('x')] == [(3, 6.0), (7, 14.0)]


def test_reads_what_torch_summary_writer_writes(tmp_path):
    """simple_value, float and double tensors read as tensorboard reads them;
    histograms and text are not scalars."""
    tb = pytest.importorskip('torch.utils.tensorboard')
    event_accumulator = pytest.importorskip(
        'tensorboard.backend.event_processing.event_accumulator')
    tensor_util = pytest.importorskip('tensorboard.util.tensor_util')
    writer = tb.SummaryWriter(str(tmp_path))
    for step in range(3):
        writer.add_scalar('charts/episodic_return', 0.1 * step, step)
        writer.add_scalar('losses/new_style', 1.5 + step, step, new_style=True)
        writer.add_scalar('losses/double', 0.1 * step, step, new_style=True,
                          double_precision=True)
        writer.add_histogram('weights', np.array([0.5, 1.0, 2.0]), step)
        writer.add_text('note', 'not a number', step)
    writer.close()
    (path,) = tmp_path.iterdir()
    scalars = parse_events(path.read_bytes())

    acc = event_accumulator.EventAccumulator(str(tmp_path), size_guidance={'tensors': 0})
    acc.Reload()
    expected = [(e.step, 'charts/episodic_return', e.value)
                for e in acc.Scalars('charts/episodic_return')]
    for tag in ('losses/new_style', 'losses/double'):
        expected += [(e.step, tag, float(tensor_util.make_ndarray(e.tensor_proto)))
                     for e in acc.Tensors(tag)]
    assert sorted(scalars) == sorted(expected) and len(scalars) == 9
    assert (2, 'losses/double', 0.2) in scalars  # a double stays a double
    assert {tag for _, tag, _ in scalars} == {'charts/episodic_return', 'losses/new_style',
                                              'losses/double'}


def _tensor_event(step, tag, **tensor):
    summary = _proto('summary_pb2').Summary
    value = summary.Value(tag=tag)
    value.tensor.CopyFrom(_proto('tensor_pb2').TensorProto(**tensor))
    event = _proto('event_pb2').Event(step=step, summary=summary(value=[value]))
    return tfrecord(event.SerializeToString())


def test_tensor_scalars_in_every_encoding_and_non_scalars_skipped():
    shape = _proto('tensor_shape_pb2').TensorShapeProto
    one = shape(dim=[shape.Dim(size=1), shape.Dim(size=1)])
    data = b''.join([
        _tensor_event(1, 'raw', dtype=1, tensor_content=struct.pack('<f', 2.5)),
        _tensor_event(2, 'raw_double', dtype=2, tensor_content=struct.pack('<d', 0.1)),
        _tensor_event(3, 'shape_1x1', dtype=1, tensor_shape=one, float_val=[-4.0]),
        _tensor_event(4, 'vector', dtype=1, tensor_shape=shape(dim=[shape.Dim(size=2)]),
                      float_val=[1.0, 2.0]),
        _tensor_event(5, 'int', dtype=3, int_val=[7]),
        _tensor_event(6, 'text', dtype=7, string_val=[b'x']),
    ])
    assert parse_events(data) == [(1, 'raw', 2.5), (2, 'raw_double', 0.1),
                                  (3, 'shape_1x1', -4.0)]


def test_a_scalar_tensor_of_the_wrong_size_is_a_one_line_error():
    data = _tensor_event(1, 'bad', dtype=1, tensor_content=b'\x00\x00')
    with pytest.raises(ValueError, match='malformed event at byte 0: a scalar tensor'):
        parse_events(data)
