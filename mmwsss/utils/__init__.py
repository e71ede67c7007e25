"""What is truly miscellaneous: the OpenMMLab stack's deprecation notices we filter
(:mod:`.upstream_noise`). The rest of ``mmwsss.utils`` moved in 0.2 to
:mod:`mmwsss.config`, :mod:`mmwsss.preflight`, :mod:`mmwsss.outputs`,
:mod:`mmwsss.parallel`, :mod:`mmwsss.cli` and :mod:`mmwsss.engine`; the old paths
keep working until 0.3, with a ``DeprecationWarning``."""


def __getattr__(name: str):
    import importlib

    from ._moved import NAMES, warn_moved
    if name not in NAMES:
        raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
    warn_moved(f'mmwsss.utils.{name}', f'{NAMES[name]}.{name}')
    value = globals()[name] = getattr(importlib.import_module(NAMES[name]), name)
    return value  # kept: ``from mmwsss.utils import X`` asks twice, one warning
