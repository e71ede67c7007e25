"""Distributed training on machines without CUDA (gloo, DDP on CPU).

mmengine's ``pytorch`` launcher calls ``torch.cuda.set_device`` before
``init_process_group`` and wraps the model in DDP with
``device_ids=[LOCAL_RANK]``; both fail without CUDA. When CUDA is absent we
initialise the process group with gloo ourselves (mmengine then skips its
own ``init_dist``), wrap with ``device_ids=None`` and turn SyncBN (CUDA only)
into BN. With CUDA nothing changes.
"""
import os
from typing import Any, Callable, Optional

import torch
import torch.distributed as torch_dist
from mmengine.logging import print_log


def _sync_bn_to_bn(node: Any) -> int:
    """Replace ``norm_cfg.type='SyncBN'`` by ``'BN'`` in place; returns the count."""
    n = 0
    if isinstance(node, dict):
        if node.get('type') in ('SyncBN', 'MMSyncBN', 'mmseg.SyncBN') and 'requires_grad' in node:
            node['type'] = 'BN'
            n += 1
        for v in node.values():
            n += _sync_bn_to_bn(v)
    elif isinstance(node, (list, tuple)):
        for v in node:
            n += _sync_bn_to_bn(v)
    return n


def sync_bn_to_bn(cfg) -> int:
    """Turn every SyncBN norm config of ``cfg.model`` into BN (in place)."""
    return _sync_bn_to_bn(cfg.model) if 'model' in cfg else 0


def setup_cpu_distributed(cfg, launcher: str) -> bool:
    """Prepare ``cfg`` (and the process group) for DDP on CPU.

    Call it before building the Runner. Does nothing when CUDA is available
    or ``launcher == 'none'``.

    Args:
        cfg (Config): the training/test config, changed in place.
        launcher (str): the ``--launcher`` argument.

    Returns:
        bool: whether the CPU path was taken.
    """
    if launcher == 'none' or torch.cuda.is_available():
        return False
    if launcher != 'pytorch':
        raise RuntimeError(f'launcher {launcher!r} needs CUDA here; on a CPU-only machine '
                           'use --launcher pytorch (tools/dist_train.sh)')
    dist_cfg = cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})
    dist_cfg['backend'] = 'gloo'
    if not torch_dist.is_initialized():
        kwargs = {k: v for k, v in dist_cfg.items() if k not in ('backend', )}
        if 'timeout' in kwargs and not hasattr(kwargs['timeout'], 'total_seconds'):
            import datetime
            kwargs['timeout'] = datetime.timedelta(seconds=kwargs['timeout'])
        torch_dist.init_process_group(backend='gloo', rank=int(os.environ['RANK']),
                                      world_size=int(os.environ['WORLD_SIZE']), **kwargs)
    wrapper = cfg.get('model_wrapper_cfg') or dict(
        type='MMDistributedDataParallel', broadcast_buffers=False,
        find_unused_parameters=cfg.get('find_unused_parameters', False))
    wrapper['device_ids'] = None  # DDP on CPU
    cfg.model_wrapper_cfg = wrapper
    n = sync_bn_to_bn(cfg)
    if n and torch_dist.get_rank() == 0:
        print_log(f'No CUDA: {n} SyncBN norm config(s) use BN instead', logger='current')
    return True


def init_distributed(cfg, launcher: str) -> bool:
    """Start the process group before anything else, so that start-up work
    (data checks, label caches) runs once and the others wait for it.

    Without CUDA this is :func:`setup_cpu_distributed`; with CUDA, mmengine's
    ``init_dist`` with the config's ``env_cfg.dist_cfg`` (the Runner then
    finds the group ready and skips its own). Returns whether a group runs.
    """
    if launcher == 'none':
        return False
    if not torch.cuda.is_available():
        return setup_cpu_distributed(cfg, launcher)
    if not torch_dist.is_initialized():
        from mmengine.dist import init_dist
        dist_cfg = dict(cfg.get('env_cfg', {}).get('dist_cfg', {}) or {})
        init_dist(launcher, **dist_cfg)
    return True


def device_note(launcher: str = 'none') -> Optional[str]:
    """One line when training will run on the CPU, saying why; None with CUDA.

    A CPU build of torch on a machine with an NVIDIA GPU is named as such: it
    trains, slowly, and nothing else would say so.
    """
    if torch.cuda.is_available():
        return None
    where = 'DDP over gloo on CPU processes' if launcher != 'none' else 'on the CPU'
    if torch.version.cuda is None:
        why = f'torch {torch.__version__} is a CPU-only build'
        if os.path.exists('/dev/nvidia0') or os.path.exists('/proc/driver/nvidia'):
            why += (' but this machine has an NVIDIA GPU: install a CUDA build of torch '
                    '(README, "Installing on a GPU machine")')
    else:
        why = f'torch {torch.__version__} (CUDA {torch.version.cuda}) sees no GPU ' \
            f'(CUDA_VISIBLE_DEVICES={os.environ.get("CUDA_VISIBLE_DEVICES", "unset")})'
    return f'No CUDA: training runs {where}; {why}'


def is_main_process() -> bool:
    """Rank 0 of the job, before or after the process group starts."""
    if torch_dist.is_available() and torch_dist.is_initialized():
        return torch_dist.get_rank() == 0
    return os.environ.get('RANK', '0') == '0'


def said_once(check: Callable, *args) -> None:
    """Run ``check(*args)``, a start-up check that every rank of a job runs alike
    (before or after the process group starts): its user error (``MMWSSSError``)
    is raised on rank 0 only, the other ranks exit with code 1 and say nothing,
    so that the job prints it once."""
    from mmwsss.errors import MMWSSSError
    try:
        check(*args)
    except MMWSSSError:
        if is_main_process():
            raise
        raise SystemExit(1) from None


def collect_into_work_dir(cfg) -> bool:
    """Under a launcher, add ``CollectDirHook`` to ``cfg.custom_hooks``: the ranks'
    metric results are gathered in ``<work_dir>/.dist_collect``, not in a
    ``.dist_test/`` that mmengine leaves in the current directory. Returns
    whether it was added."""
    if cfg.get('launcher', 'none') == 'none':
        return False
    hooks = list(cfg.get('custom_hooks') or [])
    if any(isinstance(h, dict) and str(h.get('type', '')).split('.')[-1] == 'CollectDirHook'
           for h in hooks):
        return False
    cfg.custom_hooks = hooks + [dict(type='CollectDirHook')]
    return True
