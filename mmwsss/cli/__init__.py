"""What every tool shares: how it starts and ends (:func:`run_tool`), its help
format, and bounded numbers for its numeric flags."""
from .argtypes import (bounded, fraction, int_at_least, nonneg_float, nonneg_int,
                       positive_float, positive_int, unit_interval)
from .tool import (USER_ERRORS, DefaultsHelpFormatter, Terminated, refuse_overwrite, run_tool,
                   user_error_message)

__all__ = [
    'bounded', 'fraction', 'int_at_least', 'nonneg_float', 'nonneg_int', 'positive_float',
    'positive_int', 'unit_interval', 'USER_ERRORS', 'DefaultsHelpFormatter', 'Terminated',
    'refuse_overwrite', 'run_tool', 'user_error_message'
]
