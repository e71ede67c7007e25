from .checkpoint import checkpoint_safe_globals, register_checkpoint_safe_globals
from .config_check import (check_label_overwrite, check_pseudo_label_dirs, check_vis_backends,
                           find_pseudo_label_step)
from .config_loading import DictAction, load_config, resolve_config_path
from .dist import (device_note, init_distributed, is_main_process, setup_cpu_distributed,
                   sync_bn_to_bn)

__all__ = [
    'checkpoint_safe_globals', 'register_checkpoint_safe_globals', 'check_label_overwrite',
    'check_pseudo_label_dirs', 'check_vis_backends', 'find_pseudo_label_step', 'DictAction',
    'load_config', 'resolve_config_path', 'setup_cpu_distributed', 'sync_bn_to_bn', 'device_note',
    'init_distributed', 'is_main_process'
]
