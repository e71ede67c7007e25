# MS COCO 2014 train for the EPS classifier (EPS recipe: crop 321). Images and
# image-level labels come from the instances json (pycocotools); images without
# any instance are left out. GT label maps for scoring pseudo labels are made by
# tools/dataset_converters/coco2014.py (SegmentationClass/train2014). The saliency
# source: data_prefix.sal_path under maps_root, as in voc12_cls.py.
dataset_type = 'COCOWSSSDataset'
data_root = 'data/coco2014'
crop_size = (321, 321)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadGTSubsetMask'),  # the GT of a semi-supervised gt_subset (else nothing)
    dict(type='LoadSaliencyMap'),
    dict(type='RandomResize', scale=(512, 512), ratio_range=(0.5, 1.0), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='PackClsSaliencyInputs'),
]
cam_pipeline = [dict(type='LoadImageFromFile'), dict(type='PackClsSaliencyInputs')]
_split = dict(
    type=dataset_type,
    data_root=data_root,
    ann_file='annotations/instances_train2014.json',
    maps_root='data/wsss_bed',
    data_prefix=dict(img_path='train2014', seg_map_path='SegmentationClass/train2014',
                     sal_path='saliency_maps/COCO2014_VST_DUTS'),
    pseudo_labels=True)
train_dataloader = dict(
    batch_size=16,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(**_split, pipeline=train_pipeline))
cam_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(**_split, pipeline=cam_pipeline))
val_dataloader = None
val_cfg = None
val_evaluator = None
test_dataloader = None
test_cfg = None
test_evaluator = None
