# tiny_fcn_voc_pseudo.py with SyncBN kept (CUDA only: tests/test_cuda.py runs it under
# torchrun with NCCL), and hooks that record what each rank trained with.
_base_ = './tiny_fcn_voc_pseudo.py'
custom_imports = dict(imports=['mmwsss', 'seg_record_hook', 'dist_env_hook'],
                      allow_failed_imports=False)
norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    backbone=dict(norm_cfg=norm_cfg),
    decode_head=dict(norm_cfg=norm_cfg),
    auxiliary_head=dict(norm_cfg=norm_cfg))
train_cfg = dict(max_iters=2, val_interval=2)
param_scheduler = [dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=0, end=2, by_epoch=False)]
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=2))
custom_hooks = [dict(type='SegRecordHook'), dict(type='DistEnvRecordHook')]
