"""dowel-style logging: ``logger.log(msg)``, ``tabular.record(k, v)``, dumps.

``logger`` and ``tabular`` are process-wide singletons, as in garage.
"""
from repro.log.logger import Logger, LoggerWarning
from repro.log.outputs import CsvOutput, LogOutput, StdOutput, TextOutput
from repro.log.tabular import TabularInput
from repro.log.tensorboard import TensorBoardOutput

logger = Logger()
tabular = TabularInput()

__all__ = ['logger', 'tabular', 'Logger', 'LoggerWarning', 'LogOutput',
           'StdOutput', 'TextOutput', 'CsvOutput', 'TensorBoardOutput',
           'TabularInput']
