# The EPS classifier recipe: SGD lr 0.01 with poly 0.9 over 20k iterations, 10x lr
# on the head, weight decay 5e-4 (biases: 2x lr, no decay).
#
# Momentum: EPS (via PSA's PolyOptimizer) calls SGD(params, lr, weight_decay),
# which puts 5e-4 into SGD's *momentum* slot; the per-group weight decay of 5e-4
# still applies. We follow that effective behaviour (momentum 5e-4, i.e. plain
# SGD) because the published EPS/EPS++ CAMs were trained with it, and momentum 0.9
# would multiply the effective step by about 10 with this lr. For the intended
# optimizer use --cfg-options optim_wrapper.optimizer.momentum=0.9
optim_wrapper = dict(
    type='OptimWrapper',
    constructor='SummaryOptimWrapperConstructor',  # one log line per paramwise setting
    optimizer=dict(type='SGD', lr=0.01, momentum=5e-4, weight_decay=5e-4),
    paramwise_cfg=dict(
        custom_keys={'conv_cls': dict(lr_mult=10.0)}, bias_lr_mult=2.0, bias_decay_mult=0.0),
    clip_grad=None)
param_scheduler = [dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=20000, by_epoch=False)]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=20000, val_interval=20001)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    checkpoint=dict(type='SafeCheckpointHook', by_epoch=False, interval=5000, max_keep_ckpts=2),
    visualization=dict(type='SegVisualizationHook', draw=False))
