# PASCAL VOC 2012 (aug) for the EPS classifier: images + image-level labels +
# a saliency map, augmented jointly (EPS recipe: long side 256-512, flip, colour
# jitter on the image only, crop 448; the crop is padded to 448 by the data
# preprocessor, image with 0 after normalisation and saliency with 0, as PSA does).
# The saliency source is a WSSS-BED key folder under `maps_root`, named by the
# dataset's data_prefix (LoadSaliencyMap reads the `sal_path` it gives); change it with
#   --cfg-options train_dataloader.dataset.data_prefix.sal_path=saliency_maps/...
dataset_type = 'VOCWSSSDataset'
data_root = 'data/VOCdevkit/VOC2012'
crop_size = (448, 448)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadGTSubsetMask'),  # the GT of a semi-supervised gt_subset (else nothing)
    dict(type='LoadSaliencyMap'),
    # keep_ratio with scale 512 x ratio in [0.5, 1]: the long side is uniform in [256, 512]
    dict(type='RandomResize', scale=(512, 512), ratio_range=(0.5, 1.0), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='PackClsSaliencyInputs'),
]
# CAM inference: full-size images, no augmentation (the model does scales + flips).
cam_pipeline = [dict(type='LoadImageFromFile'), dict(type='PackClsSaliencyInputs')]
train_dataloader = dict(
    batch_size=8,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='ImageSets/Segmentation/train_aug.txt',
        maps_root='data/wsss_bed',
        data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClassAug',
                         sal_path='saliency_maps/VOC2012_VST_DUTS'),
        pseudo_labels=True,  # image-level labels only (from the GT maps or cls_label_file)
        pipeline=train_pipeline))
# The split that tools/make_cams.py writes CAMs for, and that
# tools/eval_pseudo_labels.py scores against GT (its GT maps are read there).
cam_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='ImageSets/Segmentation/train_aug.txt',
        data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClassAug'),
        pseudo_labels=True,
        pipeline=cam_pipeline))
val_dataloader = None
val_cfg = None
val_evaluator = None
test_dataloader = None
test_cfg = None
test_evaluator = None
