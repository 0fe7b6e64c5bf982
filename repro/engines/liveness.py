"""Is a ``running`` run really running? Detects runs whose repro died.

While a run runs its manifest records who runs it: the pid and start time
of the ``repro run`` process, the kernel's boot id, the pid namespace and a
hash of the machine id (not the id itself). A reader on the same host can then tell a live
run from one left behind by a SIGKILL, an OOM kill or a crash, which the
reaper could not clean up (it may have been killed too): such a run shows
as ``stale``. On another machine, in another pid namespace or without /proc
nothing can be proved, so the run stays ``running``.
"""
import hashlib
import os
import socket


def _read(path):
    try:
        with open(path, encoding='ascii') as f:
            return f.read().strip()
    except OSError:
        return None


def process_start(pid):
    """Start time of ``pid`` in clock ticks since boot, or None if gone."""
    stat = _read(f'/proc/{pid}/stat')
    if stat is None:
        return None
    # The command name (field 2) may hold spaces and parentheses.
    fields = stat.rsplit(')', 1)[-1].split()
    return int(fields[19]) if len(fields) > 19 else None


def host_id():
    """A hash of the machine id (or, without one, the host name)."""
    name = _read('/etc/machine-id') or socket.gethostname()
    return hashlib.sha256(name.encode()).hexdigest()[:16]


def pid_namespace():
    try:
        return os.readlink('/proc/self/ns/pid')
    except OSError:
        return None


def here():
    """This process's view: host id, boot id and pid namespace."""
    return {'host_id': host_id(), 'boot_id': _read('/proc/sys/kernel/random/boot_id'),
            'pid_ns': pid_namespace()}


def runner_record(pid=None):
    """The manifest's ``runner`` section for the current process."""
    pid = pid or os.getpid()
    return {'pid': pid, 'start_ticks': process_start(pid), **here()}


def is_stale(runner, this, start_of_pid):
    """True if the recorded runner provably no longer runs (pure).

    ``this`` is :func:`here` of the reader; ``start_of_pid`` the current
    start time of the recorded pid (None if no such process), where a
    different start time means the pid was reused. Whatever cannot be
    compared (another machine, no /proc, another pid namespace) proves
    nothing, so the run is not called stale.
    """
    if not isinstance(runner, dict):
        return False
    for key in ('host_id', 'boot_id', 'pid_ns'):
        if runner.get(key) is None or this.get(key) is None:
            return False
    if runner['host_id'] != this['host_id']:
        return False  # another machine: cannot tell
    if runner['boot_id'] != this['boot_id']:
        return True  # this machine rebooted since
    if runner['pid_ns'] != this['pid_ns'] or runner.get('start_ticks') is None:
        return False  # pids not comparable
    return start_of_pid != runner['start_ticks']


def status_of(manifest):
    """The status to show: the recorded one, or ``stale`` for a dead runner."""
    status = manifest.get('status')
    if status != 'running':
        return status
    runner = manifest.get('runner')
    pid = runner.get('pid') if isinstance(runner, dict) else None
    start = process_start(pid) if isinstance(pid, int) and pid > 0 else None
    return 'stale' if is_stale(runner, here(), start) else status
