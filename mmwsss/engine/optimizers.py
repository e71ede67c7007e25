"""An optimizer-wrapper constructor whose log says what paramwise_cfg did, once."""
import logging
import re
from collections import Counter

from mmengine.logging import MMLogger, print_log
from mmengine.optim import DefaultOptimWrapperConstructor
from mmseg.registry import OPTIM_WRAPPER_CONSTRUCTORS

_LINE = re.compile(r'^paramwise_options -- (\S+):(\w+)=(.*)$')


class _CollectParamwise(logging.Filter):
    """Drops mmengine's per-parameter ``paramwise_options`` lines, counting them."""

    def __init__(self):
        super().__init__()
        self.counts = Counter()

    def filter(self, record):
        m = _LINE.match(record.getMessage())
        if m is None:
            return True
        if m.group(2) != 'params':
            self.counts[f'{m.group(2)}={m.group(3)}'] += 1
        return False


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class SummaryOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """mmengine's ``DefaultOptimWrapperConstructor`` (same arguments, same
    parameter groups) logging one summary line per setting, e.g.
    ``weight_decay=0.0: 291 parameters``, instead of one line per parameter and
    setting (534 of the 1,133 lines of a 2-iteration K-Net Swin-L log).
    """

    def __call__(self, model):
        logger = MMLogger.get_current_instance()
        collect = _CollectParamwise()
        logger.addFilter(collect)
        try:
            optim_wrapper = super().__call__(model)
        finally:
            logger.removeFilter(collect)
        if collect.counts:
            lines = [f'{setting}: {n} parameters' for setting, n in sorted(collect.counts.items())]
            print_log('paramwise_cfg parameter groups: ' + '; '.join(lines), logger='current')
        return optim_wrapper
