"""Configs: loading (aliases, ``--cfg-options``, a sweep's τ), the start-up checks of
their keys and values, the ``mmwsss::`` scope and the ``--smoke`` shrink."""
from .checks import (check_label_overwrite, check_pseudo_label_dirs, check_vis_backends,
                     find_pseudo_label_step)
from .loading import DictAction, load_config, resolve_config_path
from .scope import register_config_scope
from .smoke import make_smoke_config

__all__ = [
    'check_label_overwrite', 'check_pseudo_label_dirs', 'check_vis_backends',
    'find_pseudo_label_step', 'DictAction', 'load_config', 'resolve_config_path',
    'register_config_scope', 'make_smoke_config'
]
