# The demo's segmentor (tools/demo.py): a narrow FCN (mmseg's fcn_r50-d8 with a
# ResNetV1c-18 of 16 base channels, BN), trained from scratch on pseudo labels
# made on the fly by SaliencyPseudoLabel. The CAM store, saliency source, tau and
# mode come from environment variables that tools/demo.py sets from the tau sweep.
_base_ = ['mmseg::_base_/models/fcn_r50-d8.py', 'mmseg::_base_/default_runtime.py']
custom_imports = dict(imports=['mmwsss'], allow_failed_imports=False)

data_root = '{{$MMWSSS_DEMO_DATA:demo_out/data}}'
metainfo = dict(
    classes=('background', 'disc', 'box', 'triangle', 'ring', 'cross'),
    palette=[[0, 0, 0], [128, 0, 0], [0, 128, 0], [128, 128, 0], [0, 0, 128], [128, 0, 128]])
crop_size = (64, 64)
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    data_preprocessor=dict(size=crop_size),
    pretrained=None,
    backbone=dict(depth=18, stem_channels=16, base_channels=16, norm_cfg=norm_cfg),
    decode_head=dict(in_channels=128, channels=64, num_classes=6, norm_cfg=norm_cfg),
    auxiliary_head=dict(in_channels=64, channels=32, num_classes=6, norm_cfg=norm_cfg))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='SaliencyPseudoLabel',
         cam_dir='{{$MMWSSS_DEMO_CAM_DIR:demo_out/cams/ird}}',
         sal_dir=data_root + '/wsss_bed/saliency_maps/{{$MMWSSS_DEMO_SAL:SYN_CLEAN}}',
         cam_format='npz', tau={{'$MMWSSS_DEMO_TAU:0.2'}}, mode='{{$MMWSSS_DEMO_MODE:saliency}}'),
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
train_dataloader = dict(
    batch_size=16, num_workers=0, persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type='VOCWSSSDataset', data_root=data_root, metainfo=metainfo,
                 ann_file='ImageSets/Segmentation/train_aug.txt',
                 cls_label_file='cls_labels/train_aug.txt', pseudo_labels=True,
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1, num_workers=0, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='VOCWSSSDataset', data_root=data_root, metainfo=metainfo,
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
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=max_iters,
                    max_keep_ckpts=1))
randomness = dict(seed=0)
