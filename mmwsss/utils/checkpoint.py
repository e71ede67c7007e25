"""Deprecated: moved to :mod:`mmwsss.engine.checkpoint` (see :mod:`mmwsss.utils._moved`)."""
from ._moved import alias_module

alias_module(globals(), 'mmwsss.engine.checkpoint')
