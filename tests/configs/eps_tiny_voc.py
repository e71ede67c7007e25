# A tiny EPS++ classifier on the VOC fixture: the real recipe (ResNet-38, SGD with
# 10x head lr, poly) shrunk to run 2 iterations in seconds on a CPU.
_base_ = ['../../configs/_base_/models/eps_resnet38.py', 'mmseg::_base_/default_runtime.py']
custom_imports = dict(imports=['mmwsss'], allow_failed_imports=False)

data_root = '{{ fileDirname }}/../data/voc'
sal_dir = data_root + '/saliency_maps/VOC2012_TEST'
crop_size = (32, 32)
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(base_channels=4, init_cfg=None),  # 256 output channels; nothing downloaded
    in_channels=256,
    saliency_loss=dict(type='IRDSaliencyLoss', num_iter=2, dilations=(1, 2)),
    cam_scales=(0.5, 1.0))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadGTSubsetMask'),  # the GT of a semi-supervised gt_subset (else nothing)
    dict(type='LoadSaliencyMap'),  # the dataset's data_prefix.sal_path
    dict(type='RandomResize', scale=(64, 64), ratio_range=(0.5, 1.0), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='PackClsSaliencyInputs'),
]
_split = dict(
    type='VOCWSSSDataset',
    data_root=data_root,
    ann_file='ImageSets/Segmentation/train_aug.txt',
    cls_label_file='cls_labels/train_aug.txt',
    data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClassAug',
                     sal_path='saliency_maps/VOC2012_TEST'),
    pseudo_labels=True)
train_dataloader = dict(
    batch_size=2, num_workers=0, persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(**_split, pipeline=train_pipeline))
cam_dataloader = dict(
    batch_size=1, num_workers=0, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(**_split, pipeline=[dict(type='LoadImageFromFile'),
                                     dict(type='PackClsSaliencyInputs')]))

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.01, momentum=5e-4, weight_decay=5e-4),
    paramwise_cfg=dict(custom_keys={'conv_cls': dict(lr_mult=10.0)}, bias_lr_mult=2.0,
                       bias_decay_mult=0.0))
param_scheduler = [dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=2, by_epoch=False)]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=2, val_interval=100)
val_cfg = None
val_dataloader = None
val_evaluator = None
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=1),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=2))
randomness = dict(seed=0)
