"""Output safety, shared by every file-writing tool: a settings guard, no output among
the inputs, a lock held by the live main process only, and what a rerun may keep."""
from .guards import (all_config_input_dirs, check_outside_inputs, config_input_dirs,
                     dataset_input_dirs, guard_output_dir, refuse_launcher)
from .locks import OutputLock, rank_zero_lock
from .resume import file_fingerprint, is_done

__all__ = [
    'all_config_input_dirs', 'check_outside_inputs', 'config_input_dirs', 'dataset_input_dirs',
    'guard_output_dir', 'refuse_launcher', 'OutputLock', 'rank_zero_lock', 'file_fingerprint',
    'is_done'
]
