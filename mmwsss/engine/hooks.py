"""Hooks: crash-safe checkpoints, test-time drawings that need no training split, and
the ranks' metric results gathered in the work dir."""
import os
import os.path as osp

import mmcv
from mmengine import fileio
from mmengine.dist import is_main_process
from mmengine.fileio import LocalBackend
from mmengine.hooks import CheckpointHook, Hook
from mmseg.engine.hooks import SegVisualizationHook
from mmseg.registry import HOOKS

from mmwsss.fileio.atomic import _fsync_dir, atomic_write


@HOOKS.register_module()
class SafeCheckpointHook(CheckpointHook):
    """mmengine's ``CheckpointHook``, crash-safe.

    mmengine removes the oldest checkpoint *before* writing the new one, into its
    final name: with ``max_keep_ckpts=1`` a kill during the save leaves a partial
    file, no complete checkpoint, and ``--resume`` loses every iteration. Here the
    new checkpoint is written under a temporary name, fsynced and renamed, then
    ``last_checkpoint`` is updated (atomically), and only then are the checkpoints
    beyond ``max_keep_ckpts`` removed. Other storage backends than the local disk
    keep mmengine's behaviour. Takes every argument of ``CheckpointHook``.
    """

    def _save_checkpoint_with_step(self, runner, step, meta):
        if not isinstance(self.file_backend, LocalBackend):
            return super()._save_checkpoint_with_step(runner, step, meta)
        stale = []
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids and
                                            self.keep_ckpt_ids[-1] == step):
            while len(self.keep_ckpt_ids) >= self.max_keep_ckpts:  # a bounded deque
                stale.append(self.keep_ckpt_ids.popleft())
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids', list(self.keep_ckpt_ids))
        name = self.filename_tmpl.format(step)
        self.last_ckpt = osp.join(self.out_dir, name)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        tmp_name = f'.{name}.tmp'
        runner.save_checkpoint(self.out_dir, tmp_name, self.file_client_args,
                               save_optimizer=self.save_optimizer,
                               save_param_scheduler=self.save_param_scheduler, meta=meta,
                               by_epoch=self.by_epoch, backend_args=self.backend_args,
                               **self.args)
        if not is_main_process():
            return
        tmp = osp.join(self.out_dir, tmp_name)
        with open(tmp, 'rb') as f:
            os.fsync(f.fileno())
        os.replace(tmp, self.last_ckpt)
        _fsync_dir(self.out_dir)
        data = self.last_ckpt.encode()
        atomic_write(osp.join(runner.work_dir, 'last_checkpoint'), lambda f: f.write(data))
        for old in stale:  # only now: the new checkpoint is complete
            path = osp.join(self.out_dir, self.filename_tmpl.format(old))
            if osp.isfile(path):
                os.remove(path)

    def _save_best_checkpoint(self, runner, metrics) -> None:
        """mmengine's ``save_best``, crash-safe: mmengine removes the previous
        ``best_*.pth`` before it writes the new one under its final name, so a kill in
        between leaves no best checkpoint (or a partial one) for ``tools/test.py CONFIG
        best``. Here the new best is written under a temporary name, fsynced and
        renamed, and only then is the previous one removed."""
        if not isinstance(self.file_backend, LocalBackend):
            return super()._save_best_checkpoint(runner, metrics)
        backend, save, stale = self.file_backend, runner.save_checkpoint, []

        class _RemoveLater:  # the file backend, with the removal of the old best deferred
            def __getattr__(self, name):
                return getattr(backend, name)

            def remove(self, path):
                stale.append(path)

        def save_best_atomically(out_dir, filename, *args, **kwargs):
            if not filename.startswith('best_'):  # the periodic one: already atomic
                return save(out_dir, filename, *args, **kwargs)
            save(out_dir, f'.{filename}.tmp', *args, **kwargs)
            if is_main_process():  # the file is written by the main process only
                tmp = osp.join(out_dir, f'.{filename}.tmp')
                with open(tmp, 'rb') as f:
                    os.fsync(f.fileno())
                os.replace(tmp, osp.join(out_dir, filename))
                _fsync_dir(out_dir)

        self.file_backend, runner.save_checkpoint = _RemoveLater(), save_best_atomically
        try:
            super()._save_best_checkpoint(runner, metrics)
        finally:
            self.file_backend = backend
            del runner.save_checkpoint  # the method again
        for path in stale:  # only now: the new best is complete
            if osp.isfile(path):
                os.remove(path)


@HOOKS.register_module()
class SegTestVisualizationHook(SegVisualizationHook):
    """mmseg's ``SegVisualizationHook`` for ``tools/test.py --show-dir``.

    mmseg's hook passes ``runner.iter`` as the step, which builds the training loop
    and so needs the training split on a machine that only has val data; its
    drawings go to the visualizer's backend folder (relative to the current
    folder). This one draws each test image to ``out_dir/<img stem>.png``
    (relative paths under the run's ``work_dir/<timestamp>/``) and never touches
    the training loop.

    Args:
        out_dir (str, optional): where the drawings go.
        **kwargs: those of ``SegVisualizationHook``.
    """

    def __init__(self, out_dir=None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.out_dir = out_dir

    def before_test(self, runner) -> None:
        if self.out_dir is not None and not osp.isabs(self.out_dir):
            self.out_dir = osp.join(runner.log_dir, self.out_dir)

    def after_test_iter(self, runner, batch_idx, data_batch, outputs) -> None:
        if not self.draw or not self.every_n_inner_iters(batch_idx, self.interval):
            return
        for output in outputs:
            img = mmcv.imfrombytes(fileio.get(output.img_path, backend_args=self.backend_args),
                                   channel_order='rgb')
            name = osp.basename(output.img_path)
            out_file = None if self.out_dir is None else \
                osp.join(self.out_dir, osp.splitext(name)[0] + '.png')
            self._visualizer.add_datasample(f'test_{name}', img, data_sample=output,
                                            show=self.show, wait_time=self.wait_time,
                                            out_file=out_file, step=batch_idx)


@HOOKS.register_module()
class CollectDirHook(Hook):
    """Gather the ranks' metric results through a folder in the work dir.

    Under a launcher, mmengine's metrics gather through a folder that, when a
    metric has no ``collect_dir``, is made as ``.dist_test/`` in the current
    directory and left there; mmseg's ``IoUMetric`` does not even pass a
    configured ``collect_dir`` on. Before each validation and test this sets
    ``<work_dir>/.dist_collect`` on every metric that collects on the CPU
    without a folder of its own (mmengine removes it after each gathering).
    ``tools/train.py`` and ``tools/test.py`` add it under a launcher.
    """
    priority = 'VERY_HIGH'

    def _point(self, runner, loop) -> None:
        folder = osp.join(runner.work_dir, '.dist_collect')
        for metric in getattr(getattr(loop, 'evaluator', None), 'metrics', []):
            if getattr(metric, 'collect_device', None) == 'cpu' and \
                    getattr(metric, 'collect_dir', False) is None:
                metric.collect_dir = folder

    def before_val(self, runner) -> None:
        self._point(runner, runner.val_loop)

    def before_test(self, runner) -> None:
        self._point(runner, runner.test_loop)
