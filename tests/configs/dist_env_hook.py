"""A test-only hook (imported through ``custom_imports`` with tests/configs on
PYTHONPATH): records how each rank trained, for the CUDA / NCCL tests."""
import json
import os.path as osp

import torch
import torch.distributed as dist
from mmengine.dist import get_rank, get_world_size
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmseg.registry import HOOKS


@HOOKS.register_module()
class DistEnvRecordHook(Hook):
    """Writes ``dist_env_rank{r}.json`` under ``work_dir`` after training: the
    process group's backend and size, the model's device and wrapper, its
    SyncBatchNorm layers, and their running means (equal on every rank only if
    SyncBN really synchronised the batch statistics)."""
    priority = 'VERY_LOW'

    def after_train(self, runner) -> None:
        wrapped = runner.model
        model = wrapped.module if is_model_wrapper(wrapped) else wrapped
        sync_bn = [m for m in model.modules() if isinstance(m, torch.nn.SyncBatchNorm)]
        record = dict(
            backend=dist.get_backend() if dist.is_initialized() else None,
            world_size=get_world_size(),
            wrapper=type(wrapped).__name__,
            device=str(next(model.parameters()).device),
            sync_bn_layers=len(sync_bn),
            running_means=[m.running_mean.detach().cpu().tolist() for m in sync_bn[:3]])
        with open(osp.join(runner.work_dir, f'dist_env_rank{get_rank()}.json'), 'w') as f:
            json.dump(record, f)
