"""Deprecated: moved to :mod:`mmwsss.cli.argtypes` (see :mod:`mmwsss.utils._moved`)."""
from ._moved import alias_module

alias_module(globals(), 'mmwsss.cli.argtypes')
