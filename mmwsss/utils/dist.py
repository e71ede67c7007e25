"""Deprecated: moved to :mod:`mmwsss.parallel.dist` (see :mod:`mmwsss.utils._moved`)."""
from ._moved import alias_module

alias_module(globals(), 'mmwsss.parallel.dist')
