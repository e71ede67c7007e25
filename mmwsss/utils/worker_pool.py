"""Deprecated: moved to :mod:`mmwsss.parallel.worker_pool` (see :mod:`mmwsss.utils._moved`)."""
from ._moved import alias_module

alias_module(globals(), 'mmwsss.parallel.worker_pool')
