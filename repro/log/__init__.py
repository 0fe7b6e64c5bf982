"""dowel-style logging: ``logger.log(msg)``, ``tabular.record(k, v)``, dumps.

``logger`` and ``tabular`` are process-wide singletons, as in garage.
"""
from repro.log.logger import Logger, LoggerWarning
from repro.log.outputs import CsvOutput, LogOutput, StdOutput, TextOutput
from repro.log.tabular import TabularInput, TabularInputWarning
from repro.log.tensorboard import TensorBoardOutput

logger = Logger()
tabular = TabularInput()


def _singleton(name):
    """Unpickling target: the process's own ``logger`` or ``tabular``."""
    return {'logger': logger, 'tabular': tabular}[name]


# Launchers run as scripts define their algorithms in __main__, which
# cloudpickle pickles by value together with the globals they use. Without
# this, a restored algorithm would record into a private copy of ``tabular``
# and its metrics would never reach progress.csv.
Logger._singleton_name = TabularInput._singleton_name = None
logger._singleton_name, tabular._singleton_name = 'logger', 'tabular'

__all__ = ['logger', 'tabular', 'Logger', 'LoggerWarning', 'LogOutput',
           'StdOutput', 'TextOutput', 'CsvOutput', 'TensorBoardOutput',
           'TabularInput', 'TabularInputWarning']
