# MS COCO 2014 train for the EPS classifier (EPS recipe: crop 321). Images and
# image-level labels come from the instances json (pycocotools); images without
# any instance are left out. GT label maps for scoring pseudo labels are made by
# tools/dataset_converters/coco2014.py (SegmentationClass/train2014).
dataset_type = 'COCOWSSSDataset'
data_root = 'data/coco2014'
sal_dir = 'data/wsss_bed/saliency_maps/COCO2014_VST_DUTS'
crop_size = (321, 321)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadSaliencyMap', sal_dir=sal_dir),
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
    data_prefix=dict(img_path='train2014', seg_map_path='SegmentationClass/train2014'),
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
