"""Distributed training on machines without CUDA (gloo, DDP on CPU), and the
recipe's total batch that the launchers keep.

mmengine's ``pytorch`` launcher calls ``torch.cuda.set_device`` before
``init_process_group`` and wraps the model in DDP with
``device_ids=[LOCAL_RANK]``; both fail without CUDA. When CUDA is absent we
initialise the process group with gloo ourselves (mmengine then skips its
own ``init_dist``), wrap with ``device_ids=None`` and turn SyncBN (CUDA only)
into BN. With CUDA nothing changes.
"""
import os
import os.path as osp
import re
from typing import Any, Callable, Optional, Tuple

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
                    '(docs/get_started.md, "Installing on a GPU machine")')
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


def recipe_batch(cfg) -> Optional[Tuple[int, str]]:
    """The recipe's total batch (all GPUs together) and where it was read, or None.

    Read from ``auto_scale_lr.base_batch_size``, where mmseg's and mmdet's
    configs record it and what mmengine scales the learning rate against; else
    from ``_{gpus}xb{batch}`` in the config's file name (an own config that
    records nothing: the source says so).
    """
    base = (cfg.get('auto_scale_lr') or {}).get('base_batch_size')
    if base:
        return int(base), 'auto_scale_lr.base_batch_size'
    found = re.search(r'_(\d+)xb(\d+)', osp.basename(cfg.filename or ''))
    if found:
        gpus, batch = map(int, found.groups())
        return gpus * batch, (f"the config's name, _{gpus}xb{batch}; record it as auto_scale_lr "
                              f'= dict(enable=False, base_batch_size={gpus * batch})')
    return None


def recipe_gpus(cfg) -> int:
    """How many GPUs (processes) make the recipe's total batch with the config's
    per-GPU batch (``train_dataloader.batch_size``, after ``--cfg-options``).

    Raises:
        WSSSConfigError: when the config records no recipe batch, or the per-GPU
            batch does not divide it; the message says what to set.
    """
    from mmwsss.errors import WSSSConfigError
    found = recipe_batch(cfg)
    if found is None:
        raise WSSSConfigError(
            f'{cfg.filename} records no total batch (auto_scale_lr.base_batch_size, nor '
            '_{gpus}xb{batch} in its name): set GPUS=N, or add auto_scale_lr = '
            'dict(enable=False, base_batch_size=N) to the config')
    total, source = found
    batch = cfg.train_dataloader.batch_size
    if total % batch:
        raise WSSSConfigError(
            f'the per-GPU batch {batch} (train_dataloader.batch_size) does not divide the '
            f"recipe's total batch {total} ({source}): set GPUS=N, or a batch_size that does")
    return total // batch


def batch_note(cfg, world_size: int) -> Optional[str]:
    """A warning when ``world_size`` processes × the per-GPU batch is not the
    recipe's total batch (:func:`recipe_batch`), saying what to change; None
    when it is, or when the config records no recipe batch."""
    found = recipe_batch(cfg)
    batch = cfg.train_dataloader.batch_size
    if found is None or world_size * batch == found[0]:
        return None
    total, source = found
    real = world_size * batch
    msg = (f"total batch {real} ({world_size} process{'es' if world_size > 1 else ''} x "
           f"{batch}) is not the recipe's {total} ({source})")
    if (cfg.get('auto_scale_lr') or {}).get('enable'):
        return f'{msg}: mmengine scales the learning rate by {real}/{total} ' \
            '(auto_scale_lr.enable=True)'
    gpus = f'{total // batch} GPUs (tools/dist_train.sh CONFIG {total // batch}), or ' \
        if total % batch == 0 else ''
    return (f"{msg}: the results will not be the recipe's; use {gpus}"
            f'--cfg-options auto_scale_lr.enable=True to scale the learning rate by '
            f'{real}/{total}')
