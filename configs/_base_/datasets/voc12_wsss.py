# PASCAL VOC 2012 aug for WSSS: train on train_aug (10,582 images) with pseudo
# labels made on the fly from WSSS-BED maps; validate on the GT of val (1,449).
# The augmentation is mmseg's pascal_voc12_aug.py. The training dataset runs its
# `pseudo_label_cfg` (a SaliencyPseudoLabel step) right after LoadImageFromFile,
# before any geometric transform, with the maps its `data_prefix` names under
# `maps_root`: a leaf changes the source by dict overrides, e.g.
#   train_dataloader = dict(dataset=dict(
#       data_prefix=dict(cam_path='activation_maps/VOC2012_EPS_MOVE', sal_path=None),
#       pseudo_label_cfg=dict(tau=0.2, mode='no_saliency')))
# and --cfg-options reaches every root by name: train_dataloader.dataset.data_root,
# train_dataloader.dataset.maps_root, train_dataloader.dataset.data_prefix.cam_path
# (absolute: one's own CAM store), ...data_prefix.sal_path, val_dataloader.dataset.data_root.
dataset_type = 'VOCWSSSDataset'
data_root = 'data/VOCdevkit/VOC2012'
bed_root = 'data/wsss_bed'  # WSSS-BED {activation_maps,saliency_maps}/<KEY>/
crop_size = (512, 512)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResize', scale=(2048, 512), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, 512), keep_ratio=True),
    # GT is loaded after Resize: metrics are computed at the original size
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]
img_ratios = [0.5, 0.75, 1.0, 1.25, 1.5, 1.75]
tta_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(
        type='TestTimeAug',
        transforms=[
            [dict(type='Resize', scale_factor=r, keep_ratio=True) for r in img_ratios],
            [
                dict(type='RandomFlip', prob=0., direction='horizontal'),
                dict(type='RandomFlip', prob=1., direction='horizontal')
            ],
            [dict(type='LoadAnnotations')],
            [dict(type='PackSegInputs')]
        ])
]
train_dataloader = dict(
    batch_size=4,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        maps_root=bed_root,
        # default source: WSSS-BED CAM maps + VST (DUTS) saliency
        # seg_map_path: read only for the images of a semi-supervised gt_subset
        data_prefix=dict(
            img_path='JPEGImages',
            seg_map_path='SegmentationClassAug',
            cam_path='activation_maps/VOC2012_CAM',
            sal_path='saliency_maps/VOC2012_VST_DUTS'),
        ann_file='ImageSets/Segmentation/train_aug.txt',
        # WSSS-BED image-level label list (`<img_id> <c> ...`); drop it to
        # derive the labels from SegmentationClassAug instead
        cls_label_file='cls_labels/train_aug.txt',
        pseudo_labels=True,
        # CAM's τ 0.1, saliency mode
        pseudo_label_cfg=dict(cam_format='bed_png', tau=0.1, mode='saliency'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClassAug'),
        ann_file='ImageSets/Segmentation/val.txt',
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
