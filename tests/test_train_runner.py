"""A real mmengine Runner trains an mmseg segmentor on on-the-fly pseudo labels."""
import json
import os.path as osp

import numpy as np
from mmengine.config import Config
from mmengine.runner import Runner

CFG = osp.join(osp.dirname(__file__), 'configs', 'tiny_fcn_voc_pseudo.py')


def test_runner_trains_on_pseudo_labels_and_validates_on_gt(tmp_path):
    cfg = Config.fromfile(CFG)
    assert cfg.model.backbone.type == 'ResNetV1c'  # inherited from mmseg::
    cfg.work_dir = str(tmp_path)
    # a visualizer of its own: mmengine keeps one per name per process, and another
    # test's Runner would otherwise get these scalars
    cfg.visualizer.name = 'train_runner_test'
    runner = Runner.from_cfg(cfg)

    # (not via the dataloader: mmengine's InfiniteSampler cannot be iterated twice)
    ds = runner.train_dataloader.dataset
    labels = np.concatenate([ds[i]['data_samples'].gt_sem_seg.data.numpy().ravel()
                             for i in range(len(ds))])
    assert set(np.unique(labels)) <= {0, 1, 7, 12, 15, 20, 255}  # labelled classes only
    assert set(np.unique(labels)) - {0, 255}  # foreground made from the CAMs

    runner.train()
    assert osp.isfile(osp.join(tmp_path, 'iter_4.pth'))
    logs = [json.loads(ln) for ln in open(next(tmp_path.glob('*/vis_data/scalars.json')))]
    losses = [r['loss'] for r in logs if 'loss' in r]
    assert len(losses) == 4 and all(np.isfinite(losses))
    miou = [r['mIoU'] for r in logs if 'mIoU' in r]
    assert len(miou) == 1 and 0 <= miou[0] <= 100
