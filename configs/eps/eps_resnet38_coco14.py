# EPS on COCO 2014 train: batch 16, crop 321, lambda 0.9, otherwise the VOC recipe
# (SGD lr 0.01, poly 0.9, 10x lr on the head, weight decay 5e-4, momentum 5e-4 as
# EPS effectively runs: see eps_resnet38_voc12.py). 100k iterations (about 20
# epochs of the 82k labelled images) is our choice.
_base_ = [
    '../_base_/models/eps_resnet38.py', '../_base_/datasets/coco14_cls.py',
    'mmseg::_base_/default_runtime.py'
]
custom_imports = dict(imports=['mmwsss'], allow_failed_imports=False)
crop_size = (321, 321)
model = dict(
    data_preprocessor=dict(size=crop_size),
    num_classes=80,
    saliency_loss=dict(_delete_=True, type='eps', tau=0.4, lam=0.9))

max_iters = 100000
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.01, momentum=5e-4, weight_decay=5e-4),
    paramwise_cfg=dict(
        custom_keys={'conv_cls': dict(lr_mult=10.0)}, bias_lr_mult=2.0, bias_decay_mult=0.0),
    clip_grad=None)
param_scheduler = [
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=max_iters, by_epoch=False)
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters + 1)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=10000, max_keep_ckpts=2),
    visualization=dict(type='SegVisualizationHook', draw=False))
