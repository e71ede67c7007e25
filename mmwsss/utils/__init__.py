from .checkpoint import checkpoint_safe_globals, register_checkpoint_safe_globals
from .config_check import check_pseudo_label_dirs, find_pseudo_label_step
from .dist import setup_cpu_distributed, sync_bn_to_bn

__all__ = [
    'checkpoint_safe_globals', 'register_checkpoint_safe_globals', 'check_pseudo_label_dirs', 'find_pseudo_label_step',
    'setup_cpu_distributed', 'sync_bn_to_bn'
]
