"""TensorBoard scalars without TensorFlow, tensorboard or protobuf installed.

An event file is a sequence of TFRecords (length, masked CRC32C, payload,
masked CRC32C) whose payloads are ``tensorflow.Event`` protobuf messages. We
only need three message shapes, so they are encoded by hand here; the files
are read back by tensorboard's own ``EventAccumulator`` in the tests.
"""
import itertools
import numbers
import os
import struct
import time

import numpy as np

from repro.core._fs import copy_file
from repro.log.outputs import LogOutput
from repro.log.tabular import TabularInput


def _crc32c_table():
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_CRC_TABLE = _crc32c_table()


def crc32c(data):
    """CRC-32C (Castagnoli), as TFRecord uses."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _CRC_TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def _masked_crc(data):
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def tfrecord(payload):
    """Frame ``payload`` as one TFRecord."""
    header = struct.pack('<Q', len(payload))
    return (header + struct.pack('<I', _masked_crc(header)) + payload
            + struct.pack('<I', _masked_crc(payload)))


def _varint(value):
    value &= 0xFFFFFFFFFFFFFFFF  # int64 two's complement, as protobuf does
    out = bytearray()
    while True:
        bits = value & 0x7F
        value >>= 7
        if value:
            out.append(bits | 0x80)
        else:
            out.append(bits)
            return bytes(out)


def _field_bytes(number, data):
    return _varint(number << 3 | 2) + _varint(len(data)) + data


def encode_event(wall_time, step=0, file_version=None, scalars=None):
    """Encode an ``Event`` with either a file version or scalar summaries."""
    msg = b'\x09' + struct.pack('<d', wall_time)  # field 1, fixed64
    if step:
        msg += b'\x10' + _varint(step)  # field 2, varint
    if file_version is not None:
        msg += _field_bytes(3, file_version.encode())
    if scalars:
        summary = b''.join(
            _field_bytes(1, _field_bytes(1, tag.encode())
                         + b'\x15' + struct.pack('<f', value))  # simple_value
            for tag, value in scalars.items())
        msg += _field_bytes(5, summary)
    return msg


_file_counter = itertools.count()


class EventFileWriter:
    """Appends events to one ``events.out.tfevents.*`` file."""

    def __init__(self, log_dir, path=None):
        """A new file in ``log_dir``; or, with ``path``, append to that one."""
        os.makedirs(log_dir, exist_ok=True)
        if path is not None:
            self.path = path
            self._file = open(path, 'ab')
            return
        # TensorBoard only needs 'tfevents' in the name; time, pid and a
        # counter keep names unique. The host name (TensorBoard's habit) is
        # left out so a log directory does not reveal where it was produced.
        name = (f'events.out.tfevents.{int(time.time()):010d}.repro.{os.getpid()}'
                f'.{next(_file_counter)}')
        self.path = os.path.join(log_dir, name)
        self._file = open(self.path, 'xb')
        self._file.write(tfrecord(encode_event(time.time(),
                                               file_version='brain.Event:2')))
        self._file.flush()

    def size(self):
        self._file.flush()
        return os.fstat(self._file.fileno()).st_size

    def add_scalars(self, scalars, step):
        self._file.write(tfrecord(encode_event(time.time(), int(step),
                                               scalars=scalars)))

    def flush(self):
        self._file.flush()

    def close(self):
        if not self._file.closed:
            self._file.close()


class TensorBoardOutput(LogOutput):
    """Writes every numeric tabular value as a TensorBoard scalar per dump.

    With ``x_axis`` set (``'TotalEnvSteps'`` in experiments), the step of each
    point is that tabular value, so curves of runs with different batch sizes
    line up; otherwise it is the dump's step.
    """

    types_accepted = (TabularInput,)

    def __init__(self, log_dir, x_axis=None):
        self._writer = EventFileWriter(log_dir)
        self._x_axis = x_axis
        self._pending = []  # one dict per logger.log(tabular) since the last dump

    @property
    def path(self):
        return self._writer.path

    def record(self, data, prefix=''):
        self.check_type(data)
        scalars = {k: float(v) for k, v in data.as_primitive_dict.items()
                   if isinstance(v, (numbers.Real, np.bool_))}
        for key in scalars:
            data.mark(key)
        if scalars:
            self._pending.append(scalars)

    def dump(self, step=None):
        pending, self._pending = self._pending, []
        for scalars in pending:
            self._writer.add_scalars(scalars, scalars.get(self._x_axis, step) or 0)
        if pending:
            self._writer.flush()

    def resume_state(self):
        """The file's size now, to cut an earlier copy back to (see
        :meth:`continue_from`); what is recorded but not dumped is not in it."""
        return {'size': self._writer.size()}

    def continue_from(self, path, state):
        """Hold what the events file ``path`` (an earlier attempt's) held at
        ``state``, and append to it from there (this output's file keeps
        its own name).

        Returns a function that writes it (check everything, then write); a
        ValueError if ``path`` is shorter than recorded.
        """
        size = state['size']
        if os.stat(path).st_size < size:
            raise ValueError(f'{path} is shorter than its snapshot recorded')

        def write():
            target = self._writer.path
            self._writer.close()
            copy_file(path, target, size)
            self._writer = EventFileWriter(os.path.dirname(target), path=target)
        return write

    def close(self):
        self.dump()
        self._writer.close()


def _read_varint(data, i):
    shift = result = 0
    while True:
        if i >= len(data) or shift > 63:
            raise ValueError('truncated or overlong varint')
        byte = data[i]
        i += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, i
        shift += 7


_FIXED = {1: 8, 5: 4}


def _fields(data):
    """(field number, wire type, value) of a protobuf message, unknowns kept."""
    i = 0
    while i < len(data):
        key, i = _read_varint(data, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _read_varint(data, i)
        elif wire == 2:
            length, i = _read_varint(data, i)
            value, i = data[i:i + length], i + length
        elif wire in _FIXED:
            value, i = data[i:i + _FIXED[wire]], i + _FIXED[wire]
        else:
            raise ValueError(f'unsupported protobuf wire type {wire}')
        if i > len(data):
            raise ValueError('truncated protobuf field')
        yield number, wire, value


# DataType -> (struct format, TensorProto field of repeated values, its fixed wire type)
_FLOAT_DTYPES = {1: ('<f', 5, 5), 2: ('<d', 6, 1)}  # DT_FLOAT, DT_DOUBLE


def _one_element(shape):
    """Whether a TensorShapeProto has exactly one element ([] or [1], [1, 1], ...)."""
    size = 1
    for number, wire, value in _fields(shape):
        if number == 3 and wire == 0 and value:  # unknown_rank
            return False
        if number == 2 and wire == 2:  # dim { size: 1 }
            size *= next((v for n, w, v in _fields(value) if (n, w) == (1, 0)), 0)
    return size == 1


def _tensor_scalar(tensor):
    """The value of a one-element float or double TensorProto, else None.

    Newer writers (``add_scalar(..., new_style=True)``, TF2's
    ``tf.summary.scalar``) put scalars in ``tensor`` instead of ``simple_value``;
    the value sits in ``tensor_content`` (raw little-endian) or in the
    packed or unpacked ``float_val``/``double_val`` field.
    """
    fields = list(_fields(tensor))
    dtype = next((v for n, w, v in fields if (n, w) == (1, 0)), 0)
    shape = next((v for n, w, v in fields if (n, w) == (2, 2)), b'')
    if dtype not in _FLOAT_DTYPES or not _one_element(shape):
        return None
    fmt, number, wire = _FLOAT_DTYPES[dtype]
    raw = next((v for n, w, v in fields if (n, w) == (4, 2)), None)
    if raw is None:
        raw = b''.join(v for n, w, v in fields if n == number and w in (2, wire))
    if len(raw) != struct.calcsize(fmt):
        raise ValueError(f'a scalar tensor holding {len(raw)} bytes')
    return struct.unpack(fmt, raw)[0]


def _scalar_value(summary_value):
    """(tag, value) of one ``Summary.Value`` that holds a scalar, else None."""
    fields = {(n, w): v for n, w, v in _fields(summary_value)}
    if (1, 2) not in fields:
        return None
    if (2, 5) in fields:  # simple_value
        value = struct.unpack('<f', fields[2, 5])[0]
    elif (8, 2) in fields:  # tensor
        value = _tensor_scalar(fields[8, 2])
    else:  # an image, histogram, text, ...
        return None
    return None if value is None else (fields[1, 2].decode('utf-8'), value)


def _scalars(payload):
    """(step, tag, value) of the scalars of one Event."""
    step, out = 0, []
    for number, wire, value in _fields(payload):
        if number == 2 and wire == 0:
            step = value - (1 << 64) if value >= 1 << 63 else value
        elif number == 5 and wire == 2:
            for _n, _w, summary_value in (f for f in _fields(value) if f[:2] == (1, 2)):
                found = _scalar_value(summary_value)
                if found is not None:
                    out.append(found)
    return [(step, tag, value) for tag, value in out]


def parse_events(data):
    """(step, tag, value) of every scalar in event-file bytes, in file order.

    The bytes may come from a container, so anything malformed (a bad CRC, a
    truncated record, a wrong wire type, a tag that is not UTF-8) is a
    one-line ``ValueError`` naming the byte offset, never another exception.
    """
    i, out = 0, []
    while i < len(data):
        if i + 12 > len(data):
            raise ValueError(f'truncated record header at byte {i}')
        header = data[i:i + 8]
        (length,) = struct.unpack('<Q', header)
        if struct.unpack('<I', data[i + 8:i + 12])[0] != _masked_crc(header):
            raise ValueError(f'corrupt record header at byte {i}')
        if i + 16 + length > len(data):
            raise ValueError(f'truncated record at byte {i}')
        payload = data[i + 12:i + 12 + length]
        if struct.unpack('<I', data[i + 12 + length:i + 16 + length])[0] != _masked_crc(payload):
            raise ValueError(f'corrupt record at byte {i}')
        try:
            out.extend(_scalars(payload))
        except ValueError as exc:  # UnicodeDecodeError included
            raise ValueError(f'malformed event at byte {i}: {exc}') from None
        i += 16 + length
    return out


def read_events(path):
    """(step, tag, value) of every scalar in an event file, in file order.

    Reads ``simple_value`` scalars (what repro and ``torch.utils.tensorboard``
    write) and one-element float tensors (what newer writers emit); records
    are checked by their CRCs.
    For a file a container wrote, read its bytes with :mod:`repro.core.safefs`
    and call :func:`parse_events`.
    """
    with open(path, 'rb') as f:
        data = f.read()
    try:
        return parse_events(data)
    except ValueError as exc:
        raise ValueError(f'{path}: {exc}') from None
