"""Parallel work: worker processes that end with their parent, a parallel loop with a
progress bar, and distributed (DDP) set-up."""
from .dist import (device_note, init_distributed, is_main_process, setup_cpu_distributed,
                   sync_bn_to_bn)
from .jobs import run_parallel, track_parallel
from .worker_pool import WorkerDied, WorkerPool, die_with_parent, limit_threads

__all__ = [
    'device_note', 'init_distributed', 'is_main_process', 'setup_cpu_distributed',
    'sync_bn_to_bn', 'run_parallel', 'track_parallel', 'WorkerDied', 'WorkerPool',
    'die_with_parent', 'limit_threads'
]
