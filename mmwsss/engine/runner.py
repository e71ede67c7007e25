"""mmengine's Runner with a console a person reads."""
import logging

from mmengine.runner import Runner
from mmseg.registry import RUNNERS

from mmwsss.utils.upstream_noise import filter_upstream_logs


class _StartUpFilter(logging.Filter):
    """Drops the INFO records of a Runner's start-up (environment, config, hook
    table) until the Runner is built; warnings pass."""

    def __init__(self):
        super().__init__()
        self.started = False

    def filter(self, record: logging.LogRecord) -> bool:
        return self.started or record.levelno >= logging.WARNING


@RUNNERS.register_module()
class QuietRunner(Runner):
    """mmengine's ``Runner``, whose log leaves out the OpenMMLab stack's deprecation
    notices (:mod:`mmwsss.utils.upstream_noise` names each) and, when
    ``start_up_on_console`` is False, whose start-up (the environment, the whole
    config and the hook table: some 300 lines) goes to the log file only.

    The one change is the public ``build_logger``; every argument is ``Runner``'s.
    Our tools build their Runners with it; ``runner_type='QuietRunner'`` in a config
    does the same for mmseg's tools.
    """
    #: print the start-up on the console too (the log file always has it)
    start_up_on_console = True

    def __init__(self, *args, **kwargs):
        self._start_up = None
        super().__init__(*args, **kwargs)
        if self._start_up is not None:  # built: the console shows the run again
            self._start_up.started = True
            self.logger.info(f'environment, config and hooks: {self.logger.log_file}')

    def build_logger(self, log_level='INFO', log_file=None, **kwargs):
        logger = super().build_logger(log_level, log_file, **kwargs)
        filter_upstream_logs(logger)
        if not self.start_up_on_console:
            self._start_up = _StartUpFilter()
            for handler in logger.handlers:  # the console's, not the log file's
                if not isinstance(handler, logging.FileHandler):
                    handler.addFilter(self._start_up)
        return logger
