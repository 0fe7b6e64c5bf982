"""Content comparison of pickles, inside the run's image, never on the host.

Unpickling runs whatever code the pickle names, and a run's pickles were
written by its launcher. So the host compares pickles (and pickle members of
archives) by bytes only and, when the bytes differ, runs
``python -m repro.contentcheck`` in one container of the run's image: no
network, read-only root, the two run directories mounted read-only, the
user's uid. There, each pair is unpickled with cloudpickle (a member is read
from its archive by :func:`repro.core.archives.read_member`, with its limits) and
compared with :func:`repro.core.content.first_difference`.

The container's output is untrusted too: code in a pickle may print
anything, so the host accepts only a size-capped, strict JSON list on the
marker's line, one answer per pair it asked about. A pickle
that runs code can at worst lie about its own comparison.

Inside the image this module imports only numpy, cloudpickle and repro's
library modules (the image holds the user's chosen packages).
"""
import contextlib
import json
import os
import posixpath
import sys
import threading

from repro import contract

from repro.core import safefs
from repro.errors import ReplayError, ReproError

MARKER = 'repro-contentcheck-result-v1'
MOUNT_A, MOUNT_B = '/compare/a', '/compare/b'
MAX_OUTPUT = 4 << 20  # bytes of container output kept: far above any real answer
MAX_TEXT = 1000       # characters of one difference text kept
TIMEOUT = 600         # seconds: loading and walking even large checkpoints


def compare_pair(root_a, root_b, rel_a, rel_b, member=None):
    """The first content difference of two pickles, or of pickle ``member`` of
    two archives, or None (runs in the image)."""
    import cloudpickle

    from repro.core.content import first_difference
    loaded = []
    for side, root, rel in (('original', root_a, rel_a), ('replay', root_b, rel_b)):
        try:
            loaded.append(cloudpickle.loads(_read(root, rel, member)))
        except BaseException as exc:  # anything a pickle raises, SystemExit too: report
            return f'cannot unpickle the {side}: {type(exc).__name__}: {exc}'
    try:
        return first_difference(*loaded)
    except BaseException as exc:
        return f'cannot compare: {type(exc).__name__}: {exc}'


def _read(root, rel, member):
    """A pickle's bytes: the file, or its archive's member (size-limited)."""
    with safefs.open_regular(root, safefs.check_relative(rel)) as f:
        if member is None:
            return f.read()
        from repro.core.archives import read_member
        return read_member(f, member)


def main(argv):
    """``ROOT_A ROOT_B PAIRS_JSON``: print one line, the marker and a JSON list
    with one answer (difference text or null) per pair, in order.

    Each pair is unpickled in its own forked child, so code in one pickle
    cannot change how the other pairs are compared. The answer goes to a
    private copy of stdout that children neither hold nor can reach: fd 1
    becomes stderr, and this process is made non-dumpable so its
    ``/proc/<pid>/fd`` is closed to them.
    """
    root_a, root_b, pairs = argv[0], argv[1], json.loads(argv[2])
    sys.stdout.flush()
    answer_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    _not_dumpable()
    result = [_isolated(answer_fd, root_a, root_b, pair) for pair in pairs]
    with os.fdopen(answer_fd, 'w') as out:
        out.write(f'\n{MARKER} {json.dumps(result, ensure_ascii=True)}\n')


def _not_dumpable():
    import ctypes
    try:
        ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE, 0
    except (OSError, AttributeError):
        pass


def _isolated(answer_fd, root_a, root_b, pair):
    """compare_pair(pair) in a child; its answer comes back through a pipe."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: no way back but the pipe
        code = 1
        try:
            os.close(answer_fd)
            os.close(read_fd)
            text = _cut(compare_pair(root_a, root_b, *pair))
            os.write(write_fd, json.dumps(text).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write_fd)
    with os.fdopen(read_fd, 'rb') as f:
        data = f.read(12 * MAX_TEXT + 64)  # JSON escapes: up to 12 bytes a character
    os.waitpid(pid, 0)
    try:
        text = json.loads(data)
    except ValueError:
        return 'the comparison ended without an answer (a pickle exited or crashed it)'
    return text if text is None or isinstance(text, str) else 'not a text answer'


def _cut(text):
    return text if text is None or len(text) <= MAX_TEXT else text[:MAX_TEXT] + '...'


def parse_result(output, asked):
    """{pair: text or None} for the ``asked`` pairs, from the container's output
    bytes, or ReplayError.

    The answer is the last line that starts with the marker: one line, so
    stderr interleaved by the engine's log cannot split it. It is a list, one
    answer per pair; images made before archives were compared answer with
    {rel_a: text}, which is accepted for plain pairs.
    """
    lines = output.decode('utf-8', 'replace').splitlines()
    answers = [ln[len(MARKER) + 1:] for ln in lines if ln.startswith(MARKER + ' ')]
    if not answers:
        last = next((ln.strip() for ln in reversed(lines) if ln.strip()), '(no output)')
        raise ReplayError('content comparison in the run image gave no answer: '
                          f'{safefs.display(last[:200])}')
    try:
        result = json.loads(answers[-1], parse_constant=_no_constant)
    except (ValueError, RecursionError):
        raise ReplayError('content comparison in the run image answered with invalid '
                          'JSON') from None
    asked = [tuple(p) for p in asked]
    if isinstance(result, dict) and all(len(p) == 2 for p in asked) \
            and set(result) == {p[0] for p in asked}:
        result = [result[p[0]] for p in asked]
    if not isinstance(result, list) or len(result) != len(asked) or not all(
            v is None or isinstance(v, str) for v in result):
        raise ReplayError('content comparison in the run image answered for other files '
                          'than asked, or not with text')
    return {p: _cut(v) for p, v in zip(asked, result)}


def _no_constant(name):
    raise ValueError(name)


def in_image(engine, image_id, dir_a, dir_b, src=None, launcher=None, timeout=TIMEOUT):
    """A ``content`` callable for :func:`repro.audit.compare.compare_outputs` that
    compares pickle pairs in one container of ``image_id``.

    ``src`` (the exported source snapshot) is mounted read-only where the
    run saw it, with the launcher's directory on ``sys.path`` as in the run,
    so pickles naming classes from the project's modules can be loaded.
    """
    mounts = [(os.path.abspath(dir_a), MOUNT_A, 'ro'), (os.path.abspath(dir_b), MOUNT_B, 'ro')]
    env = {}
    if src is not None:
        mounts.append((os.path.abspath(src), contract.SRC, 'ro'))
        where = f'{contract.SRC}/{safefs.check_relative(launcher)}' if launcher else None
        env['PYTHONPATH'] = posixpath.dirname(where) if where else contract.SRC

    def content(pairs):
        pairs = [(safefs.check_relative(p[0]), safefs.check_relative(p[1]), *p[2:3])
                 for p in pairs]
        command = ['python', '-m', 'repro.contentcheck', MOUNT_A, MOUNT_B,
                   json.dumps(pairs, ensure_ascii=True)]
        code, output = run_confined(engine, image_id, command, timeout, env=env,
                                    mounts=mounts)
        if code != 0:
            tail = output.decode('utf-8', 'replace').strip().splitlines()[-1:] or ['(none)']
            raise ReplayError(f'content comparison in the run image failed (exit {code}): '
                              f'{safefs.display(tail[0][:200])}')
        return parse_result(output, pairs)
    return content


def run_confined(engine, image_id, command, timeout, **kwargs):
    """(exit code, output bytes) of a container with no network, a read-only
    root and the user's uid, stopped after ``timeout`` seconds (a pickle can
    sleep forever) or once it prints more than MAX_OUTPUT bytes."""
    output, timers, fired = Capped(MAX_OUTPUT), [], []

    def stop(container_id):
        fired.append(container_id)
        with contextlib.suppress(Exception):  # gone already: never a thread traceback
            engine.stop_container(container_id)

    def on_start(container_id):
        timers.append(threading.Timer(timeout, stop, [container_id]))
        timers[-1].start()
    try:
        code, _ = engine.run(image_id, command, network=False, read_only_root=True,
                             user=f'{os.getuid()}:{os.getgid()}', on_output=output,
                             on_start=on_start, labels={'org.repro.compare': '1'}, **kwargs)
    except ReproError:
        if not fired:
            raise
    finally:
        for timer in timers:
            timer.cancel()
    if fired:
        raise ReplayError(f'content comparison in the run image took more than {timeout} s; '
                          'stopped')
    return code, output.data()


class Capped:
    """An ``on_output`` that keeps at most ``limit`` bytes; raising beyond it
    stops the container (the engine removes it whatever is raised)."""

    def __init__(self, limit):
        self.limit, self.chunks, self.size = limit, [], 0

    def __call__(self, chunk):
        self.size += len(chunk)
        if self.size > self.limit:
            raise ReplayError('content comparison in the run image printed more than '
                              f'{self.limit} bytes; stopped')
        self.chunks.append(chunk)

    def data(self):
        return b''.join(self.chunks)


if __name__ == '__main__':
    main(sys.argv[1:])
