"""DenseCRF worker processes and the main process share the cores instead of
oversubscribing them (issue 22, item 4)."""
import os
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook

from mmwsss.parallel.worker_pool import WorkerPool

pytest.importorskip('pydensecrf.densecrf')
cv2 = pytest.importorskip('cv2')

CFG = osp.join(osp.dirname(__file__), 'configs', 'tiny_fcn_voc_pseudo.py')


def _cpus():
    return len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count()


def _threads(_):
    return torch.get_num_threads(), cv2.getNumThreads(), os.environ.get('OMP_NUM_THREADS')


def test_a_worker_runs_one_thread_whatever_the_parent_runs():
    """Fails before the fix: a forked worker kept the parent's torch and OpenCV
    pool sizes (here 3 threads each), so N workers ran 3·N threads."""
    torch_threads, cv2_threads = torch.get_num_threads(), cv2.getNumThreads()
    torch.set_num_threads(3)
    cv2.setNumThreads(3)
    try:
        pool = WorkerPool(_threads, 1)
        try:
            assert pool.submit(0).get() == (1, 1, '1')
        finally:
            pool.terminate()
        pool = WorkerPool(_threads, 1, threads=None)  # the parent's, when asked
        try:
            assert pool.submit(0).get()[:2] == (3, 3)
        finally:
            pool.terminate()
    finally:
        torch.set_num_threads(torch_threads)
        cv2.setNumThreads(cv2_threads)


class _ThreadsSeen(Hook):
    def __init__(self):
        self.seen = []

    def after_test_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        self.seen.append(torch.get_num_threads())


def test_the_network_leaves_the_workers_their_cores(tmp_path):
    """Fails before the fix: the main process kept one torch thread a core while
    two CRF workers ran (on 2 cores: 2 network threads + 2 workers)."""
    from mmengine.runner import Runner

    import mmwsss  # noqa: F401
    cfg = Config.fromfile(CFG)
    cfg.model = dict(type='DenseCRFSegTTAModel', crf='deeplab', crf_cfg=dict(iterations=1),
                     module=cfg.model)
    cfg.test_cfg = dict(type='DenseCRFTestLoop', num_workers=2)
    cfg.work_dir = str(tmp_path)
    cfg.load_from = None
    before = torch.get_num_threads()
    torch.set_num_threads(_cpus())
    try:
        runner = Runner.from_cfg(cfg)
        probe = _ThreadsSeen()
        runner.register_hook(probe)
        assert 'mIoU' in runner.test()
        assert probe.seen == [max(1, _cpus() - 2)] * 2
        assert torch.get_num_threads() == _cpus()  # given back after the loop
    finally:
        torch.set_num_threads(before)
