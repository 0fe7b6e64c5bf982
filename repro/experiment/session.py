"""One experiment call's side effects: log files, metadata, archive, streams.

Everything opened in ``__enter__`` is flushed and closed in ``__exit__``,
also when the experiment raises (the traceback goes to ``debug.log``).
"""
import datetime
import inspect
import io
import os
import platform
import sys
import traceback

import repro
from repro.core._fs import dump_json
from repro.experiment import deterministic, launch
from repro.experiment.naming import experiment_parameters
from repro.experiment.snapshotter import wait_for_snapshots
from repro.log import (CsvOutput, StdOutput, TensorBoardOutput, TextOutput,
                       logger, tabular)

STREAM_LOG = 'stdout.log'


class _Tee(io.TextIOBase):
    """Writes to a terminal stream and a log file at once."""

    def __init__(self, stream, file):
        self._stream = stream
        self._file = file

    def write(self, text):
        self._stream.write(text)
        if not self._file.closed:
            self._file.write(text)
        return len(text)

    def flush(self):
        self._stream.flush()
        if not self._file.closed:
            self._file.flush()

    def isatty(self):
        return self._stream.isatty()

    def fileno(self):
        return self._stream.fileno()

    @property
    def encoding(self):
        return getattr(self._stream, 'encoding', 'utf-8')


def _now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')


def _package_versions():
    versions = {}
    for name in ('numpy', 'cloudpickle', 'torch', 'gymnasium'):
        module = sys.modules.get(name)
        versions[name] = getattr(module, '__version__', None) if module else None
    return versions


class ExperimentSession:
    """Context manager around one call of an experiment function."""

    def __init__(self, *, log_dir, name, function, signature, kwargs, options):
        self.log_dir = log_dir
        self.name = name
        self._function = function
        self._signature = signature
        self._kwargs = kwargs
        self._options = options
        self._metadata = {}
        self._stream_file = None
        self._saved_streams = None
        self._pushed = False
        self._tensorboard = None
        self._outer = ([], []), {}

    def path(self, name):
        return os.path.join(self.log_dir, name)

    def __enter__(self):
        # A nested experiment gets its own outputs; the outer ones come back
        # untouched when it ends.
        self._outer = logger.detach(), tabular.detach()
        try:
            self._capture_streams()
            logger.add_output(TextOutput(self.path('debug.log')))
            logger.add_output(CsvOutput(self.path('progress.csv')))
            self._tensorboard = TensorBoardOutput(self.log_dir, x_axis=self._options['x_axis'])
            logger.add_output(self._tensorboard)
            logger.add_output(StdOutput())
            logger.push_prefix(f'[{self.name}] ')
            self._pushed = True
            self._write_variant()
            self._write_metadata(status='running')
            logger.log(f'Logging to {self.log_dir}')
        except BaseException:
            self._close()
            raise
        return self

    def __exit__(self, exc_type, exc, tb):
        write_error = None
        try:
            try:
                wait_for_snapshots()  # even after a crash: keep the last snapshot
            except Exception as error:
                write_error = error
                if exc_type is None:  # a failed write fails the experiment
                    exc_type, exc, tb = type(error), error, error.__traceback__
                else:
                    logger.log(f'Snapshot write also failed: {error!r}')
            if exc_type is not None:
                logger.log('Experiment raised:\n' + ''.join(
                    traceback.format_exception(exc_type, exc, tb)).rstrip())
            status = 'succeeded' if exc_type is None else (
                'interrupted' if issubclass(exc_type, KeyboardInterrupt) else 'failed')
            self._metadata.update(status=status, end_time=_now(),
                                  seed=deterministic.get_seed(),
                                  determinism=deterministic.get_determinism_record(),
                                  packages=_package_versions())
            dump_json(self.path('metadata.json'), self._metadata)
        finally:
            self._close()
        if write_error is not None and exc is write_error:
            raise write_error
        return False

    def _close(self):
        try:
            logger.remove_all()
        finally:
            if self._pushed:
                logger.pop_prefix()
                self._pushed = False
            outer_logger, outer_tabular = self._outer
            logger.attach(outer_logger)
            tabular.attach(outer_tabular)
            if self._saved_streams is not None:
                sys.stdout.flush()
                sys.stderr.flush()
                sys.stdout, sys.stderr = self._saved_streams
                self._saved_streams = None
            if self._stream_file is not None:
                self._stream_file.close()

    def _capture_streams(self):
        """Copy everything printed (stdout and stderr) into stdout.log."""
        self._stream_file = open(self.path(STREAM_LOG), 'a', encoding='utf-8',
                                 buffering=1)
        self._saved_streams = (sys.stdout, sys.stderr)
        sys.stdout = _Tee(sys.stdout, self._stream_file)
        sys.stderr = _Tee(sys.stderr, self._stream_file)

    def _write_variant(self):
        """garage's flat ``{parameter: value}``, defaults included (garage
        wrote only the passed ones; which those were is in metadata.json)."""
        dump_json(self.path('variant.json'),
                  experiment_parameters(self._signature, self._kwargs))

    def _write_metadata(self, status):
        launcher = inspect.getsourcefile(self._function) or sys.argv[0]
        launcher = os.path.abspath(launcher)
        root = launch.find_git_root(launcher)
        meta = {
            'format': 1,
            'name': self.name,
            'function': self._function.__qualname__,
            'launcher': os.path.relpath(launcher, root) if root else launcher,
            'argv': list(sys.argv),
            'passed_parameters': sorted(self._kwargs),
            'githash': launch.githash(root, exclude=self.log_dir) if root else None,
            'git': launch.git_info(root) if root else None,
            'options': {k: v for k, v in self._options.items()},
            'python': platform.python_version(),
            'platform': platform.platform(),
            'repro_version': repro.__version__,
            'status': status,
            'start_time': _now(),
            'seed': deterministic.get_seed(),
            'determinism': deterministic.get_determinism_record(),
            'archive': None,
            # which events file is this experiment's: a resumed attempt continues it
            'tensorboard_file': os.path.basename(self._tensorboard.path),
        }
        self._metadata = meta
        dump_json(self.path('metadata.json'), meta)
        if root and self._options['archive_launch_repo']:
            logger.log(f'Archiving launch repository {root}')
            meta['archive'] = launch.make_launch_archive(
                root, self.path('launch_archive.tar.xz'), exclude_dirs=[self.log_dir])
            for skipped in meta['archive']['skipped_large_files']:
                logger.log(f'WARNING: not archived (larger than '
                           f'{meta["archive"]["max_file_bytes"]} bytes): '
                           f'{skipped["path"]} ({skipped["size"]} bytes)')
            dump_json(self.path('metadata.json'), meta)
