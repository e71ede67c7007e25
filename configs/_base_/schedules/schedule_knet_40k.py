# K-Net Swin's recipe (mmseg knet-s3_swin-t/-l_upernet_8xb2-adamw-80k_ade20k):
# AdamW lr 6e-5, betas (0.9, 0.999), weight decay 5e-4 (none on position
# tables and norm), grad-norm clip 1; linear warm-up 1000 iterations from
# 0.001x, then x0.1 at 75% and 90% of training (ADE20K: 60k, 72k of 80k).
# Here 40000 (mmseg's longest VOC-aug schedule).
optim_wrapper = dict(
    type='OptimWrapper',
    constructor='SummaryOptimWrapperConstructor',  # one log line per paramwise setting
    optimizer=dict(type='AdamW', lr=0.00006, betas=(0.9, 0.999), weight_decay=0.0005),
    paramwise_cfg=dict(
        custom_keys={
            'absolute_pos_embed': dict(decay_mult=0.),
            'relative_position_bias_table': dict(decay_mult=0.),
            'norm': dict(decay_mult=0.)
        }),
    clip_grad=dict(max_norm=1, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=1000),
    dict(type='MultiStepLR', begin=1000, end=40000, milestones=[30000, 36000], by_epoch=False)
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=40000, val_interval=4000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='SafeCheckpointHook', by_epoch=False, interval=4000,
                    max_keep_ckpts=2),  # 2.96 GB each: 10 would be ~30 GB
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
