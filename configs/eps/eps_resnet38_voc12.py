# EPS (CVPR'21) on VOC 2012 aug: ResNet-38, batch 8, crop 448, 20k iterations,
# SGD lr 0.01 with poly 0.9, 10x lr on the head, weight decay 5e-4 (biases:
# 2x lr, no decay), saliency loss `eps` with tau 0.4 and lambda 0.5.
#
# Momentum: EPS (via PSA's PolyOptimizer) calls SGD(params, lr, weight_decay),
# which puts 5e-4 into SGD's *momentum* slot; the per-group weight decay of 5e-4
# still applies. We follow that effective behaviour (momentum 5e-4, i.e. plain
# SGD) because the published EPS/EPS++ CAMs were trained with it, and momentum 0.9
# would multiply the effective step by about 10 with this lr. For the intended
# optimizer use --cfg-options optim_wrapper.optimizer.momentum=0.9
_base_ = [
    '../_base_/models/eps_resnet38.py', '../_base_/datasets/voc12_cls.py',
    'mmseg::_base_/default_runtime.py'
]
custom_imports = dict(imports=['mmwsss'], allow_failed_imports=False)
crop_size = (448, 448)
model = dict(
    data_preprocessor=dict(size=crop_size),
    num_classes=20,
    saliency_loss=dict(_delete_=True, type='eps', tau=0.4, lam=0.5))

max_iters = 20000
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
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=5000, max_keep_ckpts=2),
    visualization=dict(type='SegVisualizationHook', draw=False))
