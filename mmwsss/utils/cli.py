"""Deprecated: moved to :mod:`mmwsss.cli` (see :mod:`mmwsss.utils._moved`)."""
from ._moved import alias_module

alias_module(globals(), 'mmwsss.cli.tool', 'mmwsss.cli.argtypes')
