"""Is a ``running`` run really running? Detects runs whose repro died.

While a run runs its manifest records who runs it: the pid and start time
of the ``repro run`` process, the kernel's boot id and a hash of the host
name (not the name itself). A reader on the same host can then tell a live
run from one left behind by a SIGKILL, an OOM kill or a crash, which the
reaper could not clean up (it may have been killed too): such a run shows
as ``stale``. On another host nothing can be proved, so the run stays
``running``.
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
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:16]


def here():
    """This host's identity: (host id, boot id)."""
    return host_id(), _read('/proc/sys/kernel/random/boot_id')


def runner_record(pid=None):
    """The manifest's ``runner`` section for the current process."""
    pid = pid or os.getpid()
    host, boot = here()
    return {'pid': pid, 'start_ticks': process_start(pid), 'boot_id': boot, 'host_id': host}


def is_stale(runner, this_host, this_boot, start_of_pid):
    """True if the recorded runner provably no longer runs (pure).

    ``start_of_pid`` is the current start time of the recorded pid (None if
    no such process): a different start time means the pid was reused.
    """
    if not isinstance(runner, dict) or runner.get('host_id') != this_host:
        return False  # another host (or an old manifest): cannot tell
    if runner.get('boot_id') != this_boot:
        return True  # the host rebooted since
    return start_of_pid is None or start_of_pid != runner.get('start_ticks')


def status_of(manifest):
    """The status to show: the recorded one, or ``stale`` for a dead runner."""
    status = manifest.get('status')
    if status != 'running':
        return status
    runner = manifest.get('runner')
    pid = runner.get('pid') if isinstance(runner, dict) else None
    start = process_start(pid) if isinstance(pid, int) and pid > 0 else None
    return 'stale' if is_stale(runner, *here(), start) else status
