import struct

import pytest

from repro.log import Logger, TabularInput, TensorBoardOutput
from repro.log.tensorboard import crc32c, tfrecord


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
