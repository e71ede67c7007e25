"""Deprecated: moved to :mod:`mmwsss.preflight.weights` (see :mod:`mmwsss.utils._moved`)."""
from ._moved import alias_module

alias_module(globals(), 'mmwsss.preflight.weights')
