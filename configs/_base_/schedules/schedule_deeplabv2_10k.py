# DeepLab-V2 as WSSS-BED trains it (seg_networks/DeepLab-V2-Pytorch; VOC: 10k iterations at batch 20):
# SGD lr 2.5e-4, momentum 0.9, weight decay 5e-4; the ASPP weights at 10x lr,
# its biases at 20x lr without weight decay (caffe lr_mult / decay_mult);
# poly power 0.9 to 10000 iterations.
optimizer = dict(type='SGD', lr=2.5e-4, momentum=0.9, weight_decay=5e-4)
optim_wrapper = dict(
    type='OptimWrapper',
    constructor='SummaryOptimWrapperConstructor',  # one log line per paramwise setting
    optimizer=optimizer,
    clip_grad=None,
    # the longest matching key wins
    paramwise_cfg=dict(
        custom_keys={
            'decode_head': dict(lr_mult=10.),
            'decode_head.aspp_convs.0.bias': dict(lr_mult=20., decay_mult=0.),
            'decode_head.aspp_convs.1.bias': dict(lr_mult=20., decay_mult=0.),
            'decode_head.aspp_convs.2.bias': dict(lr_mult=20., decay_mult=0.),
            'decode_head.aspp_convs.3.bias': dict(lr_mult=20., decay_mult=0.)
        }))
param_scheduler = [
    dict(type='PolyLR', eta_min=0., power=0.9, begin=0, end=10000, by_epoch=False)
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=10000, val_interval=1000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='SafeCheckpointHook', by_epoch=False, interval=1000,
                    max_keep_ckpts=3),  # ~0.35 GB each
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
