# The demo's segmentor (demo/wsss_demo.py): a narrow FCN (mmseg's fcn_r50-d8 with a
# ResNetV1c-18 of 16 base channels, BN), trained from scratch on pseudo labels
# made on the fly by SaliencyPseudoLabel. The demo sets the data root, the CAM store
# (data_prefix.cam_path), the saliency source (data_prefix.sal_path) and the rule
# (pseudo_label_cfg) from the tau sweep.
_base_ = ['mmseg::_base_/models/fcn_r50-d8.py', '../../configs/_base_/default_runtime.py']
custom_imports = dict(imports=['mmwsss', 'demo.datasets'], allow_failed_imports=False)

crop_size = (64, 64)
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    data_preprocessor=dict(size=crop_size),
    pretrained=None,
    backbone=dict(depth=18, stem_channels=16, base_channels=16, norm_cfg=norm_cfg),
    decode_head=dict(in_channels=128, channels=64, num_classes=6, norm_cfg=norm_cfg),
    auxiliary_head=dict(in_channels=64, channels=32, num_classes=6, norm_cfg=norm_cfg))

train_pipeline = [
    dict(type='LoadImageFromFile'),  # the dataset's pseudo_label_cfg step runs after it
    dict(type='RandomResize', scale=(80, 80), ratio_range=(0.75, 1.5), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
data_root = 'work_dirs/demo/data'
# serialize_data=False: num_workers=0 (see cls_synthetic.py)
train_dataloader = dict(
    batch_size=16, num_workers=0, persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type='SyntheticWSSSDataset', data_root=data_root, serialize_data=False,
                 ann_file='ImageSets/Segmentation/train_aug.txt',
                 cls_label_file='cls_labels/train_aug.txt', pseudo_labels=True,
                 data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClassAug',
                                  cam_path='cams/ird',
                                  sal_path='wsss_bed/saliency_maps/SYN_CLEAN'),
                 pseudo_label_cfg=dict(cam_format='npz', tau=0.2, mode='saliency'),
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1, num_workers=0, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='SyntheticWSSSDataset', data_root=data_root, serialize_data=False,
                 ann_file='ImageSets/Segmentation/val.txt', pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator

max_iters = 300
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=2e-3,
                                                         weight_decay=1e-4))
param_scheduler = [
    dict(type='PolyLR', eta_min=1e-5, power=0.9, begin=0, end=max_iters, by_epoch=False)
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    checkpoint=dict(type='SafeCheckpointHook', by_epoch=False, interval=max_iters,
                    max_keep_ckpts=1))
randomness = dict(seed=0)
