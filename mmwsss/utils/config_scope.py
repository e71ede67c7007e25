"""Deprecated: moved to :mod:`mmwsss.config.scope` (see :mod:`mmwsss.utils._moved`)."""
from ._moved import alias_module

alias_module(globals(), 'mmwsss.config.scope')
