"""Deprecated: moved to :mod:`mmwsss.outputs` and :mod:`mmwsss.parallel.jobs`
(see :mod:`mmwsss.utils._moved`)."""
from ._moved import alias_module

alias_module(globals(), 'mmwsss.outputs.guards', 'mmwsss.outputs.locks', 'mmwsss.outputs.resume',
             'mmwsss.parallel.jobs')
