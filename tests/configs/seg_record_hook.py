"""A test-only hook (imported through ``custom_imports`` with tests/configs on
PYTHONPATH): records what each rank saw and ended with, and can slow a run
down so that a test can kill it between checkpoints."""
import os.path as osp
import time

import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmseg.registry import HOOKS


@HOOKS.register_module()
class SegRecordHook(Hook):
    """Writes under ``work_dir``:
    ``seen_rank{r}.txt`` (``<iteration, 1-based> <img_path>`` per sample),
    ``final_rank{r}.pth`` (parameters after training),
    ``resumed_rank{r}.pth`` (iter and optimizer state right after a resume).
    """
    priority = 'VERY_LOW'

    def __init__(self, sleep: float = 0.):
        self.sleep = sleep

    def before_train(self, runner) -> None:
        if runner.iter > 0:  # resumed: state as loaded from the checkpoint
            torch.save(dict(iter=runner.iter, optimizer=runner.optim_wrapper.state_dict()),
                       osp.join(runner.work_dir, f'resumed_rank{get_rank()}.pth'))

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        with open(osp.join(runner.work_dir, f'seen_rank{get_rank()}.txt'), 'a') as f:
            for s in data_batch['data_samples']:
                f.write(f'{runner.iter + 1} {s.img_path}\n')
        if self.sleep:
            time.sleep(self.sleep)

    def after_train(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        params = {k: v.detach().cpu().clone() for k, v in model.named_parameters()}
        torch.save(params, osp.join(runner.work_dir, f'final_rank{get_rank()}.pth'))
