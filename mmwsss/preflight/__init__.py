"""Pre-flight: the checks of data and weights a run makes before it starts
(``tools/check_data.py`` prints them; ``tools/train.py`` stops on them)."""
from .data import DataCheck, check_data, check_data_once, check_data_report
from .weights import check_weights, pretrained_weights

__all__ = ['DataCheck', 'check_data', 'check_data_once', 'check_data_report', 'check_weights',
           'pretrained_weights']
