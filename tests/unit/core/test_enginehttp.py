"""The Engine API's HTTP on the local socket, against canned answers: every
way an answer's body can end, and a connection cut short (no Docker)."""
import json
import socket
import struct
import threading

import pytest

from repro.engines.dockerengine import _json_lines
from repro.engines.enginehttp import Answer, LocalHTTP, api_path, frames, unix_socket_path


def test_only_local_sockets_are_spoken_without_docker_py():
    assert unix_socket_path(None) == unix_socket_path('') == '/var/run/docker.sock'
    assert unix_socket_path('unix:///run/x.sock') == '/run/x.sock'
    for other in ('tcp://10.0.0.1:2376', 'ssh://me@host', 'unix://', 'npipe:////./pipe/x'):
        assert unix_socket_path(other) is None


def test_paths_quote_refs_as_docker_py_does():
    assert api_path('/images/{}/json', 'reg:5000/a b:1') == '/images/reg:5000/a%20b:1/json'
    assert api_path('/images/{}/json', 'x?all=1#') == '/images/x%3Fall%3D1%23/json'


def frame(stream, data):
    return struct.pack('>BxxxL', stream, len(data)) + data


def reader(data, size):
    """A ``read(n)`` over ``data`` that returns at most ``size`` bytes a call."""
    pos = [0]

    def read(n):
        piece = data[pos[0]:pos[0] + min(n, size)]
        pos[0] += len(piece)
        return piece
    return read


def test_frames_survive_any_read_size_and_a_stream_cut_mid_frame():
    raw = frame(1, b'out\n') + frame(2, b'err\n') + frame(1, b'') + frame(1, b'x' * 70000)
    for size in (1, 7, 8, 9, 1 << 20):
        assert list(frames(reader(raw, size))) == [
            (1, b'out\n'), (2, b'err\n'), (1, b''), (1, b'x' * 70000)]
    for end in (14, 22):  # cut inside the second frame's header, inside its data
        assert list(frames(reader(raw[:end], 1 << 20))) == [(1, b'out\n')]


def test_json_lines_are_split_wherever_the_pieces_end():
    pieces = [b'{"a":', b' 1}\r\n{"b": 2}\r', b'\n\r\n', b'{"c": 3}']
    assert list(_json_lines(iter(pieces))) == [{'a': 1}, {'b': 2}, {'c': 3}]


def test_an_error_answer_is_one_line():
    assert Answer(500, {}, b'{"message": "no\\nspace  left"}').message() == 'no space left'
    assert Answer(502, {}, b'bad gateway\n').message() == 'bad gateway'
    assert Answer(503, {}, b'').message() == 'HTTP 503'


@pytest.fixture
def canned(tmp_path):
    """serve(answer bytes) -> a LocalHTTP whose next request gets them; the
    request the engine saw is in ``seen``."""
    path, seen, threads = str(tmp_path / 'e.sock'), [], []
    server = socket.socket(socket.AF_UNIX)
    server.bind(path)
    server.listen(4)

    def serve(answer):
        def one():
            conn, _ = server.accept()
            with conn:
                data = b''
                while b'\r\n\r\n' not in data:
                    data += conn.recv(65536)
                seen.append(data)
                conn.sendall(answer)
        threads.append(threading.Thread(target=one, daemon=True))
        threads[-1].start()
        return LocalHTTP(path, 5, '1.41')
    yield serve, seen
    server.close()


@pytest.mark.parametrize('answer', [
    b'HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n{"a": [1]}\n',
    b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n'
    b'4;ext=1\r\n{"a"\r\n7\r\n: [1]}\n\r\n0\r\nTrailer: x\r\n\r\n',
    b'HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{"a": [1]}\n',  # to the end
])
def test_a_body_ends_by_its_length_its_chunks_or_the_connection(canned, answer):
    serve, seen = canned
    got = serve(answer).request('GET', '/images/json', {'filters': '{"label": ["k=v"]}'})
    assert (got.status, got.json()) == (200, {'a': [1]})
    assert seen[0].startswith(b'GET /v1.41/images/json?filters=%7B%22label%22%3A+%5B%22k%3Dv'
                              b'%22%5D%7D HTTP/1.1\r\n')
    assert b'Connection: close\r\n' in seen[0]


def test_an_interim_answer_is_skipped(canned):
    serve, _ = canned
    got = serve(b'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\n'
                b'Content-Length: 9\r\n\r\n{"Id": 1}').request('POST', '/containers/create')
    assert (got.status, got.json()) == (201, {'Id': 1})


@pytest.mark.parametrize('answer', [
    b'',  # hung up before answering
    b'HTTP/1.1 200 OK\r\nContent-Length: 1, 1\r\n\r\n{}',  # malformed, not a traceback
    b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n',
    b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\n{}',  # no size: no end
    b'HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n{"StatusCode"',
    b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n{"Status',
    b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n',
])
def test_an_answer_cut_short_is_a_connection_error(canned, answer):
    serve, _ = canned
    with pytest.raises(ConnectionError):
        serve(answer).request('POST', '/containers/x/wait', timeout=None)


def test_a_json_body_is_sent_with_its_length(canned):
    serve, seen = canned
    serve(b'HTTP/1.1 201 Created\r\nContent-Length: 9\r\n\r\n{"Id": 1}').request(
        'POST', '/containers/create', body={'Image': 'é'})
    head, _, _ = seen[0].partition(b'\r\n\r\n')
    assert b'Content-Type: application/json' in head
    assert b'Content-Length: %d' % len(json.dumps({'Image': 'é'}).encode()) in head


def test_an_unreachable_socket_is_an_os_error(tmp_path):
    with pytest.raises(OSError):
        LocalHTTP(str(tmp_path / 'none.sock'), 1).request('GET', '/_ping', versioned=False)
