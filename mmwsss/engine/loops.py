"""A test loop that refines predictions with DenseCRF in worker processes."""
import os
from collections import deque
from typing import Dict, List, Union

import torch
from mmengine.dist import get_rank
from mmengine.model import is_model_wrapper
from mmengine.runner import TestLoop
from mmengine.runner.amp import autocast
from mmengine.runner.loops import _parse_losses, _update_losses
from mmseg.registry import LOOPS
from tqdm import tqdm

from mmwsss.models.segmentors.crf_tta import (DenseCRFSegTTAModel, crf_refine_file,
                                              set_refined)
from mmwsss.parallel.worker_pool import WorkerPool


def _refine_job(args):
    return crf_refine_file(*args)


def _job_image(args) -> str:
    return f'the CRF of {args[0]}'


@LOOPS.register_module()
class DenseCRFTestLoop(TestLoop):
    """mmengine's ``TestLoop`` for a :class:`DenseCRFSegTTAModel`: the network's
    merged probabilities go to a pool of ``num_workers`` processes for the CRF
    (about a second per VOC image on one core) while the network runs on the
    next batches; each batch reaches the metric and the hooks (``--out``,
    ``--show-dir``) in order, refined, with a progress bar on rank 0. At most
    ``2 * num_workers`` batches wait for their CRF, which bounds the memory.
    Each worker runs one thread, and while they run this process's torch uses
    the cores they leave (at least one): a network on the CPU with one thread a
    core beside N workers would oversubscribe the cores.
    ``num_workers=0`` refines in this process. Under ``dist_test.sh`` every rank
    has its own pool for its share of the images. A worker that dies (killed,
    out of memory) ends the run with an error naming the image it was refining
    and its signal, rather than waiting for ever for that image.

    Args:
        num_workers (int): CRF worker processes per rank.
        Others as ``TestLoop``.
    """

    def __init__(self, runner, dataloader: Union[torch.utils.data.DataLoader, Dict],
                 evaluator: Union[Dict, List], fp16: bool = False,
                 num_workers: int = 1) -> None:
        super().__init__(runner, dataloader, evaluator, fp16)
        if not isinstance(num_workers, int) or num_workers < 0:
            raise ValueError(f'num_workers must be an int >= 0, got {num_workers!r}')
        self.num_workers = num_workers
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        if not isinstance(model, DenseCRFSegTTAModel):
            raise TypeError('DenseCRFTestLoop needs a DenseCRFSegTTAModel, got '
                            f'{type(model).__name__} (tools/test.py --crf sets both)')
        self._crf_model = model

    def run(self) -> dict:
        self.runner.call_hook('before_test')
        self.runner.call_hook('before_test_epoch')
        self.runner.model.eval()
        self.test_loss.clear()
        self._crf_model.defer_crf = True
        bar = tqdm(total=len(self.dataloader), desc=f'DenseCRF ({self._crf_model.crf})',
                   disable=get_rank() != 0)
        pool = WorkerPool(_refine_job, self.num_workers, describe=_job_image, threads=1) \
            if self.num_workers > 0 else None
        threads = torch.get_num_threads()
        if pool is not None:
            torch.set_num_threads(min(threads, max(1, _num_cpus() - self.num_workers)))
        try:
            pending = deque()
            for idx, data_batch in enumerate(self.dataloader):
                pending.append(self._submit(pool, idx, data_batch))
                while len(pending) > 2 * max(self.num_workers, 1) or \
                        (pending and all(r.ready() for r in pending[0][-1])):
                    self._finish(*pending.popleft())
                    bar.update()
            while pending:
                self._finish(*pending.popleft())
                bar.update()
        finally:
            torch.set_num_threads(threads)
            self._crf_model.defer_crf = False
            bar.close()
            if pool is not None:
                pool.terminate()
        metrics = self.evaluator.evaluate(len(self.dataloader.dataset))
        if self.test_loss:
            metrics.update(_parse_losses(self.test_loss, 'test'))
        self.runner.call_hook('after_test_epoch', metrics=metrics)
        self.runner.call_hook('after_test')
        return metrics

    @torch.no_grad()
    def _submit(self, pool, idx, data_batch):
        self.runner.call_hook('before_test_iter', batch_idx=idx, data_batch=data_batch)
        with autocast(enabled=self.fp16):
            outputs = self.runner.model.test_step(data_batch)
        outputs, self.test_loss = _update_losses(outputs, self.test_loss)
        model = self._crf_model
        jobs = [(s.img_path, s.crf_probs, model.crf, model.crf_cfg) for s in outputs]
        for s in outputs:  # the probabilities travel to the worker, not to the metric
            del s.crf_probs
        if pool is None:
            results = [_Done(_refine_job(j)) for j in jobs]
        else:
            results = [pool.submit(j) for j in jobs]
        return idx, data_batch, outputs, results

    def _finish(self, idx, data_batch, outputs, results):
        for sample, result in zip(outputs, results):
            set_refined(sample, result.get())  # a worker's error is raised here
        self.evaluator.process(data_samples=outputs, data_batch=data_batch)
        self.runner.call_hook('after_test_iter', batch_idx=idx, data_batch=data_batch,
                              outputs=outputs)


def _num_cpus() -> int:
    """The cores this process may run on (its affinity: taskset, cgroups' cpusets)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class _Done:
    """An ``AsyncResult`` for work done in this process."""

    def __init__(self, value):
        self.value = value

    def ready(self):
        return True

    def get(self):
        return self.value
