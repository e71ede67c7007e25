"""Semi-supervised training (issue 10): a ``gt_subset`` of the training images keeps its
GT masks, every other image gets its pseudo label, in one dataset and one pipeline."""
import os.path as osp

import mmcv
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import Runner
from mmseg.registry import DATASETS, HOOKS
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

import mmwsss  # noqa: F401
from mmwsss.errors import WSSSInputError
from mmwsss.fileio import CAMStore, draw_subset, read_label_png, read_saliency
from mmwsss.functional import PseudoLabelRule
from tests.utils import load_tool

GT_IDS = ['2007_000032', '2008_000002']  # tests/data/voc/ImageSets/Segmentation/train.txt
TINY_SEG = osp.join(osp.dirname(__file__), 'configs', 'seg_tiny_deeplabv2_voc.py')


def _dataset(voc_root, pipeline, **kw):
    cfg = dict(type='VOCWSSSDataset', data_root=voc_root, maps_root=voc_root,
               ann_file='ImageSets/Segmentation/train_aug.txt',
               cls_label_file='cls_labels/train_aug.txt', pseudo_labels=True,
               data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClassAug',
                                cam_path='activation_maps/VOC2012_TEST',
                                sal_path='saliency_maps/VOC2012_TEST'),
               pseudo_label_cfg=dict(tau=0.1), gt_subset='ImageSets/Segmentation/train.txt',
               pipeline=pipeline)
    cfg.update(kw)
    return DATASETS.build(cfg)


def test_gt_images_keep_their_mask_through_the_geometric_transforms(voc_root):
    ds = _dataset(voc_root, [dict(type='LoadImageFromFile'),
                             dict(type='Resize', scale_factor=0.5, keep_ratio=True),
                             dict(type='RandomFlip', prob=1.0)])
    seen = set()
    for i in range(len(ds)):
        out = ds[i]
        img_id = out['img_id']
        h, w = out['img'].shape[:2]
        assert out['gt_seg_map'].shape == (h, w)
        if img_id in GT_IDS:
            gt = read_label_png(osp.join(voc_root, 'SegmentationClassAug', img_id + '.png'))
            want = mmcv.imrescale(gt, 0.5, interpolation='nearest', backend='cv2')[:, ::-1]
            np.testing.assert_array_equal(out['gt_seg_map'], want)  # bit for bit
            seen.add(img_id)
        else:
            assert 'seg_map_path' not in ds.get_data_info(i)  # no GT leaks
    assert seen == set(GT_IDS)


def test_weak_images_get_exactly_the_pseudo_label_rule(voc_root):
    ds = _dataset(voc_root, [dict(type='LoadImageFromFile')])
    store = CAMStore(osp.join(voc_root, 'activation_maps', 'VOC2012_TEST'), 'bed_png')
    rule = PseudoLabelRule(tau=0.1)
    weak = 0
    for i in range(len(ds)):
        out = ds[i]
        if out['img_id'] in GT_IDS:
            continue
        hw = out['img'].shape[:2]
        cams, keys = store.load(out['img_id'], out['cls_labels'].tolist(), hw, 19)
        sal = read_saliency(osp.join(voc_root, 'saliency_maps', 'VOC2012_TEST',
                                     out['img_id'] + '.png'), out['img_id'], hw)
        np.testing.assert_array_equal(out['gt_seg_map'], rule(cams, keys, sal))
        weak += 1
    assert weak == 2


def test_gt_subset_errors_name_the_id_and_the_file(voc_copy, tmp_path):
    bad = tmp_path / 'subset.txt'
    bad.write_text('2007_000032\n2007_000033\n')  # 2007_000033 is a val image
    with pytest.raises(WSSSInputError, match=r"2007_000033.*subset.txt.*not in the training"):
        _dataset(voc_copy, [], gt_subset=str(bad))
    bad.write_text('2007_000039\n')
    gt = osp.join(voc_copy, 'SegmentationClassAug', '2007_000039.png')
    import os
    os.remove(gt)
    with pytest.raises(WSSSInputError, match=r"2007_000039.*SegmentationClassAug/2007_000039"
                                             r".png.*GT mask .*not found"):
        _dataset(voc_copy, [], gt_subset=str(bad))
    with pytest.raises(WSSSInputError, match='gt_subset list file not found'):
        _dataset(voc_copy, [], gt_subset=str(tmp_path / 'none.txt'))
    with pytest.raises(ValueError, match='needs pseudo_labels=True'):
        _dataset(voc_copy, [], pseudo_labels=False)


@HOOKS.register_module(force=True)
class _CountGTHook(Hook):
    """Counts, per training batch, the samples with a GT mask (``seg_map_path``
    in their metainfo: only gt_subset images carry it) and those without."""

    def __init__(self):
        self.gt, self.weak = 0, 0

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        for s in data_batch['data_samples']:
            if s.metainfo.get('seg_map_path'):
                self.gt += 1
            else:
                self.weak += 1


def test_runner_trains_on_a_mixed_set_and_the_loss_sees_both(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(osp.dirname(TINY_SEG))  # its custom_imports
    cfg = Config.fromfile(TINY_SEG)
    cfg.work_dir = str(tmp_path)
    cfg.train_dataloader.batch_size = 2
    cfg.train_dataloader.dataset.gt_subset = 'ImageSets/Segmentation/train.txt'
    cfg.train_cfg.max_iters = cfg.train_cfg.val_interval = 4
    cfg.custom_hooks = [dict(type='_CountGTHook')]
    cfg.visualizer.name = 'semi_mixed'
    runner = Runner.from_cfg(cfg)
    runner.train()
    hook = [h for h in runner.hooks if isinstance(h, _CountGTHook)][0]
    assert hook.gt + hook.weak == 8 and hook.gt > 0 and hook.weak > 0


def test_classifier_gt_mask_loss_has_the_right_gradient():
    from mmseg.registry import MODELS
    eps_cfg = Config.fromfile(osp.join(osp.dirname(__file__), 'configs', 'eps_tiny_voc.py'))
    model = MODELS.build(dict(eps_cfg.model, loss_gt_weight=1.0))
    c = model.num_classes
    logits = torch.zeros(2, c + 1, 4, 4, requires_grad=True)
    gt = torch.zeros(1, 8, 8, dtype=torch.uint8)
    gt[:, :4] = 15  # class 14 on the top half, background below
    gt[:, 7, 7] = 255
    with_gt = SegDataSample(gt_sem_seg=PixelData(data=gt), metainfo=dict(img_shape=(8, 8)))
    samples = [with_gt, SegDataSample(metainfo=dict(img_shape=(8, 8)))]
    loss = model._gt_mask_loss(logits, samples, (8, 8))
    # uniform logits: the cross-entropy is log(C + 1) on the labelled pixels
    assert loss.item() == pytest.approx(np.log(c + 1), rel=1e-5)
    loss.backward()
    g = logits.grad
    # away from the border (bilinear upsampling mixes rows 1-2): raises the GT channel
    assert (g[0, 14, 0] < 0).all() and (g[0, c, 3] < 0).all()
    assert (g[0, 14, 3] > 0).all() and (g[0, c, 0] > 0).all()
    assert (g[1] == 0).all()  # a sample without GT is not supervised by it
    none = model._gt_mask_loss(logits, samples[1:] * 2, (8, 8))
    assert none.item() == 0 and none.requires_grad


def test_draw_gt_subset_is_seeded_and_the_tool_writes_it(tmp_path, voc_root):
    ids = [f'img{i:03d}' for i in range(100)]
    a = draw_subset(ids, fraction=0.1, seed=3)
    assert len(a) == 10 and a == draw_subset(ids, size=10, seed=3) and a == sorted(a)
    assert a != draw_subset(ids, size=10, seed=4)
    with pytest.raises(ValueError, match='exactly one'):
        draw_subset(ids, 3, 0.1)
    tool = load_tool('dataset_converters/draw_gt_subset')
    out = str(tmp_path / 'gt.txt')
    split = osp.join(voc_root, 'cls_labels', 'train_aug.txt')
    got = tool.main([split, out, '--size', '2', '--seed', '1'])
    assert open(out).read().split() == got and len(got) == 2
    with pytest.raises(SystemExit, match='exists'):
        tool.main([split, out, '--size', '2'])
    # the drawn list is a valid gt_subset
    ds = _dataset(voc_root, [], gt_subset=out)
    assert sum(bool(ds.get_data_info(i).get('gt_label')) for i in range(len(ds))) == 2


def test_semi_supervised_classifier_trains_with_the_gt_mask_loss(tmp_path):
    cfg = Config.fromfile(osp.join(osp.dirname(__file__), 'configs', 'eps_tiny_voc.py'))
    cfg.work_dir = str(tmp_path)
    cfg.model.loss_gt_weight = 1.0
    cfg.train_dataloader.dataset.gt_subset = 'ImageSets/Segmentation/train.txt'
    cfg.train_dataloader.batch_size = 4  # every image in each batch: both kinds
    cfg.visualizer.name = 'semi_cls'
    runner = Runner.from_cfg(cfg)
    ds = runner.train_dataloader.dataset
    gt_ids = [ds.get_data_info(i)['img_id'] for i in range(len(ds))
              if ds.get_data_info(i).get('gt_label')]
    assert sorted(gt_ids) == GT_IDS
    runner.train()
    loss_gt = runner.message_hub.get_scalar('train/loss_gt').current()
    assert np.isfinite(loss_gt) and loss_gt > 0


def _sample(ds, img_id):
    return ds[[ds.get_data_info(i)['img_id'] for i in range(len(ds))].index(img_id)]


def test_gt_subset_image_with_an_exif_tag_is_refused(voc_copy):
    """Fails before the fix (issue 21, BAD 3): LoadImageFromFile rotated the tagged
    image and the GT mask stayed in the stored frame; the pseudo-label path refused
    such an image, the GT-subset path trained on it."""
    from PIL import Image as PILImage
    path = osp.join(voc_copy, 'JPEGImages', '2007_000032.jpg')
    img = PILImage.open(path)
    exif = img.getexif()
    exif[0x0112] = 6  # rotate 90° when displayed
    img.save(path, exif=exif.tobytes())
    ds = _dataset(voc_copy, [dict(type='LoadImageFromFile')])
    with pytest.raises(WSSSInputError, match=r"'2007_000032'.*2007_000032\.jpg.*EXIF "
                                             r'orientation.*its GT mask'):
        _sample(ds, '2007_000032')


def test_gt_subset_mask_of_another_size_is_refused(voc_copy):
    """Fails before the fix (issue 21, BAD 4): a GT mask of another size than its
    image trained in silence (mmseg's LoadAnnotations does not compare them)."""
    from mmwsss.fileio import save_label_png
    mask = osp.join(voc_copy, 'SegmentationClassAug', '2007_000032.png')
    save_label_png(mask, read_label_png(mask)[:-10])
    ds = _dataset(voc_copy, [dict(type='LoadImageFromFile')])
    with pytest.raises(WSSSInputError, match=r"'2007_000032'.*SegmentationClassAug/"
                                             r'2007_000032\.png.*GT mask is 64×38 '
                                             r'\(W×H\) but the image is 64×48'):
        _sample(ds, '2007_000032')


def test_gt_subset_mask_empty_or_with_an_unknown_label_is_refused(voc_copy):
    """Fails before the fix (issue 21, WEAK): a 0-byte mask gave Pillow's error with
    no path; a mask holding label 45 stopped training at iteration 3 with torch's
    'Target 45 is out of bounds'. The classifier's LoadGTSubsetMask is the same
    loader, with the same checks."""
    from mmseg.registry import TRANSFORMS

    from mmwsss.fileio import save_label_png
    mask = osp.join(voc_copy, 'SegmentationClassAug', '2008_000002.png')
    gt = read_label_png(mask)
    open(mask, 'wb').close()
    ds = _dataset(voc_copy, [dict(type='LoadImageFromFile')])
    with pytest.raises(WSSSInputError, match=r"'2008_000002'.*2008_000002\.png.*empty"):
        _sample(ds, '2008_000002')
    bad = gt.copy()
    bad[:5, :5] = 45
    save_label_png(mask, bad)
    with pytest.raises(WSSSInputError, match=r"'2008_000002'.*2008_000002\.png.*value\(s\) "
                                             r'\[45\].*neither a label \(0\.\.20\) nor the '
                                             r'ignore index 255'):
        _sample(ds, '2008_000002')
    cls_ds = _dataset(voc_copy, [dict(type='LoadImageFromFile'),
                                 dict(type='LoadGTSubsetMask')], pseudo_label_cfg=None)
    with pytest.raises(WSSSInputError, match=r'2008_000002\.png.*value\(s\) \[45\]'):
        _sample(cls_ds, '2008_000002')
    save_label_png(mask, gt)  # the mask restored: loaded bit for bit
    np.testing.assert_array_equal(_sample(cls_ds, '2008_000002')['gt_seg_map'], gt)


def test_pseudo_label_tools_take_a_semi_supervised_config(tmp_path, monkeypatch, voc_root):
    """Fails before the fix (issue 21, WEAK): browse_pseudo_labels and
    eval_pseudo_labels --split train_dataloader failed on every semi-supervised
    config ("gt_subset needs pseudo_labels=True"). They judge the pseudo-label
    source: every image, the gt_subset's included, gets its pseudo label, the
    same as without the subset; browse titles say which images train on GT."""
    import mmwsss.visualization
    monkeypatch.syspath_prepend(osp.dirname(TINY_SEG))  # its custom_imports
    semi = ['--cfg-options', 'train_dataloader.dataset.gt_subset='
            'ImageSets/Segmentation/train.txt']
    drawn = []
    monkeypatch.setattr(mmwsss.visualization, 'save_grid_figure',
                        lambda path, rows, *a, **k: drawn.append(rows))
    browse = load_tool('browse_pseudo_labels')
    ids = ['--ids', '2007_000032', '2007_000039']
    browse.main([TINY_SEG, '--out-dir', str(tmp_path)] + ids)
    browse.main([TINY_SEG, '--out-dir', str(tmp_path)] + ids + semi)
    plain, with_subset = drawn
    assert [r['title'] for r in with_subset] == ['2007_000032 (trains on GT)', '2007_000039']
    for a, b in zip(plain, with_subset):
        np.testing.assert_array_equal(a['pseudo'], b['pseudo'])  # a pseudo label, not GT

    sweep = load_tool('eval_pseudo_labels')
    args = [TINY_SEG, '--cam-dir', osp.join(voc_root, 'activation_maps', 'VOC2012_TEST'),
            '--cam-format', 'bed_png', '--sal-dir',
            osp.join(voc_root, 'saliency_maps', 'VOC2012_TEST'), '--split', 'train_dataloader',
            '--taus', '0.1', '0.3']
    best = sweep.main(args + ['--out-dir', str(tmp_path / 'a')])
    best_semi = sweep.main(args + ['--out-dir', str(tmp_path / 'b')] + semi)
    assert best_semi['num_images'] == best['num_images'] == 4
    assert best_semi['miou'] == best['miou'] and best_semi['tau'] == best['tau']


def test_draw_gt_subset_never_writes_over_its_split_list(tmp_path, voc_root):
    """Fails before the fix: OUT_LIST naming the split list itself, with --force, replaced
    the split (10,582 ids) by its subset."""
    import shutil
    tool = load_tool('dataset_converters/draw_gt_subset')
    split = str(tmp_path / 'train_aug.txt')
    shutil.copy(osp.join(voc_root, 'cls_labels', 'train_aug.txt'), split)
    before = open(split).read()
    with pytest.raises(SystemExit, match='is the split list it is drawn from'):
        tool.main([split, split, '--size', '2', '--force'])
    assert open(split).read() == before


def test_classifier_gt_subset_without_the_mask_loader_is_refused(voc_root):
    """Fails before the fix: a classifier pipeline with a gt_subset but no
    LoadGTSubsetMask trained with loss_gt 0 in every batch, in silence (the method
    study's first loss_gt_weight runs equalled the runs without it)."""
    pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadSaliencyMap'),
                dict(type='PackClsSaliencyInputs')]
    with pytest.raises(ValueError, match='no LoadGTSubsetMask'):
        _dataset(voc_root, pipeline, pseudo_label_cfg=None)
    ds = _dataset(voc_root, pipeline[:2] + [dict(type='LoadGTSubsetMask'), pipeline[2]],
                  pseudo_label_cfg=None)
    assert sorted(ds.get_data_info(i)['img_id'] for i in range(len(ds))
                  if ds.get_data_info(i).get('gt_label')) == GT_IDS
