# The demo's classifier (demo/wsss_demo.py) on the embedded synthetic dataset: the EPS++
# classifier (C+1 channels) on a narrow mmpretrain ResNet-18 at output stride 4
# (16x16 maps on 64x64 crops, so that PAMR's dilations see image structure),
# trained from scratch (nothing can be downloaded here) with AdamW instead of the
# ImageNet-pretrained SGD recipe of configs/eps/. The demo sets the data root
# (train_dataloader.dataset.data_root, cam_dataloader.dataset.data_root) and swaps the
# loss (model.saliency_loss.type=EPSSaliencyLoss, or model.saliency_loss=None for CAM).
_base_ = ['../../configs/_base_/datasets/voc12_cls.py', '../../configs/_base_/default_runtime.py']
custom_imports = dict(imports=['mmwsss', 'demo.datasets'], allow_failed_imports=False)

crop_size = (64, 64)
model = dict(
    type='EPSClassifier',
    data_preprocessor=dict(
        type='SegDataPreProcessor', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True, pad_val=0, seg_pad_val=0, size=crop_size),
    backbone=dict(
        type='mmpretrain.ResNet', depth=18, stem_channels=16, base_channels=16,
        strides=(1, 1, 1, 1), dilations=(1, 2, 4, 8), out_indices=(3, ),
        norm_cfg=dict(type='BN', requires_grad=True), init_cfg=None),
    num_classes=5,
    in_channels=128,
    dropout_ratio=0.1,
    saliency_loss=dict(type='IRDSaliencyLoss'),
    cam_scales=(0.5, 1.0, 1.5, 2.0),
    cam_flip=True)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadSaliencyMap'),  # the dataset's data_prefix.sal_path
    dict(type='LoadGTSubsetMask'),  # the GT of a semi-supervised gt_subset (else nothing)
    dict(type='RandomResize', scale=(80, 80), ratio_range=(0.8, 1.2), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='PackClsSaliencyInputs'),
]
# the classifiers learn from the erroneous saliency source. serialize_data=False: with
# num_workers=0 nothing shares the list, and serialising it costs a gc.collect() per
# dataset (0.5 s in a process that holds torch and a few runs' objects)
_split = dict(
    type='SyntheticWSSSDataset', data_root='work_dirs/demo/data', maps_root=None,
    serialize_data=False,
    ann_file='ImageSets/Segmentation/train_aug.txt', cls_label_file='cls_labels/train_aug.txt',
    data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClassAug',
                     sal_path='wsss_bed/saliency_maps/SYN_ERRONEOUS'),
    pseudo_labels=True)
train_dataloader = dict(
    batch_size=16, num_workers=0, persistent_workers=False,
    dataset=dict(_delete_=True, **_split, pipeline=train_pipeline))
cam_dataloader = dict(
    num_workers=0, persistent_workers=False,
    dataset=dict(_delete_=True, **_split, pipeline=[dict(type='LoadImageFromFile'),
                                                    dict(type='PackClsSaliencyInputs')]))

max_iters = 300
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=2e-3,
                                                         weight_decay=1e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, begin=0, end=20, by_epoch=False),
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=20, end=max_iters, by_epoch=False),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters + 1)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    checkpoint=dict(type='SafeCheckpointHook', by_epoch=False, interval=max_iters,
                    max_keep_ckpts=1),
    visualization=dict(type='SegVisualizationHook', draw=False))
randomness = dict(seed=0)
