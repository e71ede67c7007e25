"""The OpenMMLab stack's deprecation notices of a normal run, filtered in one place.

Every run of a tool printed them, and none is ours to fix or says anything a user
of mmwsss can act on. :func:`filter_upstream_warnings` is called first thing by
every tool and the demo; :class:`UpstreamLogFilter` sits on the log of every
Runner they build (:class:`mmwsss.engine.QuietRunner`). Each entry below names who
warns and why it is noise. Our own warnings, and upstream ones that say something
about a run (mmseg's ``avg_non_ignore`` and visualization-hook notices, torch's),
are not filtered. Written against setuptools 80, mmengine 0.10.7, mmcv 2.1.0 and
mmseg 1.2.2: a filter matches the start of the message, so one that a later
version rewords only stops filtering, never hides something else.
"""
import logging
import re
import warnings

# Python warnings: (start of the message, category)
UPSTREAM_WARNINGS = (
    # setuptools >= 67, on each `import pkg_resources`: mmengine's package_utils
    # (`is_installed`, `get_installed_path`) imports and reloads it for every
    # `mmseg::` config and registry scope (setuptools 81 removes it: the install
    # pins setuptools < 81)
    ('pkg_resources is deprecated', UserWarning),
    # mmseg 1.2.2's decode heads build their losses with its own deprecated
    # `mmseg.models.builder.build_loss`
    ('``build_loss`` would be deprecated', UserWarning),
    # mmcv 2.1.0's `deprecated_api_warning` on FFN: mmseg's K-Net head (and other
    # transformer heads) still pass the old `dropout` argument
    ('"dropout" is deprecated in `FFN', DeprecationWarning),
)

# mmengine log records (WARNING lines of the run's log): starts of the messages
UPSTREAM_LOG_LINES = (
    # mmengine's BaseMetric, for any metric built without a `prefix`: mmseg's
    # IoUMetric in every mmseg config (its keys, mIoU ..., are what everyone reads)
    'The prefix is not set in metric class ',
    # mmengine's CheckpointHook builds a FileClient in before_train, whatever the
    # config says; the client warns that it and its HardDiskBackend are deprecated
    '"FileClient" will be deprecated in future',
    '"HardDiskBackend" is the alias of "LocalBackend"',
)


def filter_upstream_warnings() -> None:
    """Ignore the Python warnings of :data:`UPSTREAM_WARNINGS` (idempotent: Python
    keeps one copy of a filter)."""
    for message, category in UPSTREAM_WARNINGS:
        warnings.filterwarnings('ignore', message=re.escape(message), category=category)


class UpstreamLogFilter(logging.Filter):
    """Drops the log records of :data:`UPSTREAM_LOG_LINES`."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(UPSTREAM_LOG_LINES)


def filter_upstream_logs(logger: logging.Logger) -> None:
    """Put :class:`UpstreamLogFilter` on ``logger`` (once)."""
    if not any(isinstance(f, UpstreamLogFilter) for f in logger.filters):
        logger.addFilter(UpstreamLogFilter())
