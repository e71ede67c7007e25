"""Registries of the ``mmwsss`` scope: children of mmseg's.

Our modules register into mmseg's registries, so a config with
``default_scope = 'mmseg'`` finds them. These children exist for configs that
inherit ours by scope (``_base_ = 'mmwsss::wsss/...'``): mmengine marks the
inherited dicts ``_scope_='mmwsss'`` and builds them through the registry of
that scope, which finds everything of mmseg's (and mmengine's) through its
parent. A registry imports its ``locations`` on its first build, and only its
own: the children therefore list mmseg's locations too, so that mmseg's
modules (``IoUMetric``, ``SegLocalVisualizer``, ...) are registered when a run
builds through ``mmwsss`` without ``mmseg.utils.register_all_modules``.
"""
from mmengine.registry import Registry
from mmseg import registry as mmseg_registry

_NAMES = ('RUNNERS', 'RUNNER_CONSTRUCTORS', 'LOOPS', 'HOOKS', 'DATASETS', 'DATA_SAMPLERS',
          'TRANSFORMS', 'MODELS', 'MODEL_WRAPPERS', 'WEIGHT_INITIALIZERS', 'OPTIMIZERS',
          'OPTIM_WRAPPERS', 'OPTIM_WRAPPER_CONSTRUCTORS', 'PARAM_SCHEDULERS', 'METRICS',
          'EVALUATOR', 'TASK_UTILS', 'VISUALIZERS', 'VISBACKENDS', 'LOG_PROCESSORS',
          'INFERENCERS')

for _name in _NAMES:
    _parent = getattr(mmseg_registry, _name)
    # a build in this scope imports mmwsss and mmseg's modules of this kind
    globals()[_name] = Registry(_parent.name, parent=_parent, scope='mmwsss',
                                locations=['mmwsss', *_parent._locations])

__all__ = list(_NAMES)
