# The demo's upper bound: the same segmentor and schedule trained on the GT labels.
_base_ = ['./seg_synthetic.py']
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomResize', scale=(80, 80), ratio_range=(0.75, 1.5), keep_ratio=True),
    dict(type='RandomCrop', crop_size={{_base_.crop_size}}, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(dataset=dict(cls_label_file=None, pseudo_labels=False,
                                     pseudo_label_cfg=None, pipeline=train_pipeline))
