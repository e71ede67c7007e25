"""Deprecated: moved to :mod:`mmwsss.preflight.data` (see :mod:`mmwsss.utils._moved`)."""
from ._moved import alias_module

alias_module(globals(), 'mmwsss.preflight.data')
