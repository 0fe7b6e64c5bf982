"""MultiprocessingSampler: one process per worker, same results as local.

Workers travel to their processes with cloudpickle, so policies and
environments defined in a launcher's ``__main__`` work. Processes are started
with ``spawn`` (safe with torch and threads). Pickling the sampler (as a
snapshot does) fetches each worker's state - environment, generator streams -
from its process, so a restored run continues exactly.
"""
import multiprocessing
import traceback

import cloudpickle

from repro.experiment import pickling
from repro.sampler.episode import EpisodeBatch
from repro.sampler.local import Sampler

pickling.install_class_ids()  # workers pickle their state back: the same ids


def _serve(conn, worker_blob):
    """Worker process loop: answer collect/state/close requests."""
    import signal
    import sys
    # Ctrl-C reaches the whole process group; the parent decides when
    # workers stop, so a KeyboardInterrupt is reported once, by the parent.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    worker = cloudpickle.loads(worker_blob)
    if 'torch' in sys.modules:  # one thread per worker: no oversubscription
        sys.modules['torch'].set_num_threads(1)
    while True:
        command, *args = conn.recv()
        try:
            if command == 'collect':
                agent_blob, env_blob, num_steps = args
                if agent_blob is not None:
                    worker.update_agent(cloudpickle.loads(agent_blob))
                if env_blob is not None:
                    worker.update_env(cloudpickle.loads(env_blob))
                conn.send(('ok', worker.collect(num_steps)))
            elif command == 'state':
                conn.send(('ok', pickling.dumps(worker)))  # snapshots hold it
            elif command == 'close':
                conn.send(('ok', None))
                return
        except Exception:
            conn.send(('error', traceback.format_exc()))


class WorkerProcessError(RuntimeError):
    """A worker process raised; carries the worker's traceback."""


class MultiprocessingSampler(Sampler):
    """Runs each worker in its own process, in parallel."""

    def __init__(self, agents, envs, *, worker_factory=None, context='spawn',
                 **worker_options):
        super().__init__(agents, envs, worker_factory=worker_factory, **worker_options)
        self._context = context
        self._blobs = [pickling.dumps(w)
                       for w in self._factory.make_workers(agents, envs)]
        self._procs = None

    def _start(self):
        if self._procs is not None:
            return
        ctx = multiprocessing.get_context(self._context)
        self._procs = []
        for blob in self._blobs:
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=_serve, args=(child, blob), daemon=True)
            proc.start()
            child.close()
            self._procs.append((proc, parent))

    def _ask_all(self, messages):
        for (proc, conn), msg in zip(self._procs, messages):
            try:
                conn.send(msg)
            except OSError:
                raise WorkerProcessError(
                    f'worker process {proc.pid} is gone (exit code {proc.exitcode})') from None
        results = []
        for proc, conn in self._procs:
            try:
                status, value = conn.recv()
            except (EOFError, OSError):
                raise WorkerProcessError(
                    f'worker process {proc.pid} died (exit code {proc.exitcode})') from None
            if status == 'error':
                raise WorkerProcessError('a worker raised:\n' + value)
            results.append(value)
        return results

    def obtain_samples(self, itr, num_samples, agent_update, env_update=None):
        self._start()
        agent_blob = None if agent_update is None else cloudpickle.dumps(agent_update)
        env_blob = None if env_update is None else cloudpickle.dumps(env_update)
        per_worker = self._factory.steps_per_worker(num_samples)
        batches = self._ask_all([('collect', agent_blob, env_blob, per_worker)]
                                * len(self._procs))
        return EpisodeBatch.concatenate(*batches)

    def _sync_blobs(self):
        if self._procs is not None:
            self._blobs = self._ask_all([('state',)] * len(self._procs))

    def shutdown_worker(self):
        """Fetch worker states and stop the processes (best effort if they died)."""
        if self._procs is None:
            return
        try:
            self._sync_blobs()
            self._ask_all([('close',)] * len(self._procs))
        except WorkerProcessError:
            pass  # already dead: terminate below; never mask the caller's error
        finally:
            for proc, conn in self._procs:
                proc.join(timeout=5)
                if proc.is_alive():
                    proc.terminate()
                conn.close()
            self._procs = None

    def __getstate__(self):
        self._sync_blobs()
        return {'_factory': self._factory, '_context': self._context,
                '_blobs': self._blobs, '_procs': None}

    def __del__(self):
        procs = getattr(self, '_procs', None) or []
        for proc, _ in procs:
            if proc.is_alive():
                proc.terminate()
