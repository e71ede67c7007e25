# K-Net Swin's recipe (see schedule_knet_40k.py), 80000 iterations as on ADE20K and
# in mmseg's COCO-Stuff164k schedule: x0.1 at 60k and 72k.
_base_ = ['./schedule_knet_40k.py']
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=1000),
    dict(type='MultiStepLR', begin=1000, end=80000, milestones=[60000, 72000], by_epoch=False)
]
train_cfg = dict(max_iters=80000, val_interval=8000)
default_hooks = dict(checkpoint=dict(interval=8000))
