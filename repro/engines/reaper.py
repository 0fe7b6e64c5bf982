"""Cleans up after a repro process that was killed outright (SIGKILL, OOM).

repro starts this as a detached process (its own session, no terminal) once
a container runs: a run's container, or an image build's. It waits for the
repro process to end. If the container is still there, repro did not get to
clean up: the reaper stops and removes the container and, for a run,
records it as ``interrupted``, so no orphaned container keeps running and
no manifest stays ``running``.
"""
import datetime
import os
import subprocess
import sys
import time


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def spawn(pid, container_id, store_root='', run_id=''):
    """Start the reaper for one container (of a run, if ``run_id``), detached
    from the caller's terminal; returns ``release()``.

    Call ``release()`` once the container is gone: the reaper then exits at
    once, without importing docker-py or asking the engine anything (on a
    cluster node that CPU would delay the next task). It listens on a pipe
    only this process can write to; if the process dies first, the pipe
    closes unwritten and the reaper cleans up.
    """
    read_fd, write_fd = os.pipe()  # not inheritable: no other child holds it open
    try:
        subprocess.Popen([sys.executable, '-m', 'repro.engines.reaper', str(pid), container_id,
                          store_root, run_id, str(read_fd)], stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True, close_fds=True, pass_fds=(read_fd,))
    except BaseException:
        os.close(write_fd)
        raise
    finally:
        os.close(read_fd)

    def release():
        try:
            os.write(write_fd, RELEASED)
        except OSError:  # the reaper is gone already
            pass
        finally:
            os.close(write_fd)
    return release


RELEASED = b'r'


def guard(container_id):
    """Reap ``container_id`` (not a run's) if this process dies first."""
    spawn(os.getpid(), container_id)


def reap(pid, container_id, store_root, run_id, connect, poll=0.5, released_fd=None):
    """Wait for ``pid`` to end, then clean up; True if the container was
    still there. ``connect()`` gives the engine, asked for only then: the
    engine may have restarted while the run went on. With ``released_fd``
    (see :func:`spawn`), a release means nothing is left to clean up."""
    if released_fd is not None:
        with os.fdopen(released_fd, 'rb') as pipe:
            if pipe.read(1) == RELEASED:  # blocks until a release or the writer's end
                return False
    from repro.engines.liveness import process_start
    started = process_start(pid)  # a reused pid has another start time
    while (process_start(pid) == started) if started is not None else alive(pid):
        time.sleep(poll)
    if not connect().stop_container(container_id):
        return False  # repro finished normally and removed it
    if not run_id:
        return True
    from repro.store.manifest import artifacts
    from repro.store.runs import RunStore
    store = RunStore(store_root)
    manifest = store.read_manifest(run_id)
    if manifest.get('status') == 'running':
        manifest.update(status='interrupted', exit_code=None,
                        end_time=datetime.datetime.now(datetime.timezone.utc).isoformat(
                            timespec='seconds'),
                        error='repro was killed; its container was stopped by the reaper',
                        artifacts=artifacts(store.run_dir(run_id)))
        store.write_manifest(run_id, manifest)
    return True


if __name__ == '__main__':
    from repro.engines.interface import connect_engine
    pid, container_id, store_root, run_id = sys.argv[1:5]
    fd = int(sys.argv[5]) if len(sys.argv) > 5 else None
    reap(int(pid), container_id, store_root, run_id, connect_engine, released_fd=fd)
