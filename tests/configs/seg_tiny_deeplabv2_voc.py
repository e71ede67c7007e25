# The VOC DeepLab-V2 recipe (optimizer, head, pseudo-label pipeline) shrunk to
# run on the VOC fixture in seconds on a CPU: ResNet-18 with 8 base channels,
# 32x32 crops, a few iterations. Used by the distributed and resume tests.
_base_ = '../../configs/wsss/recipes/deeplabv2_r101-d8_2xb10-10k_voc12aug-321x321.py'
custom_imports = dict(imports=['mmwsss', 'seg_record_hook'], allow_failed_imports=False)

data_root = '{{ fileDirname }}/../data/voc'
crop_size = (32, 32)
max_iters = 4
model = dict(
    pretrained=None,
    data_preprocessor=dict(size=crop_size),
    backbone=dict(depth=18, stem_channels=16, base_channels=8),
    decode_head=dict(in_channels=64))
train_pipeline = [
    dict(t, crop_size=crop_size) if t.type == 'RandomCrop' else t
    for t in _base_.train_pipeline
]
loader = dict(num_workers=0, persistent_workers=False)
train_dataloader = dict(
    batch_size=1, **loader,
    dataset=dict(data_root=data_root, maps_root=data_root, pipeline=train_pipeline,
                 data_prefix=dict(cam_path='activation_maps/VOC2012_TEST',
                                  sal_path='saliency_maps/VOC2012_TEST')))
val_dataloader = dict(batch_size=1, **loader, dataset=dict(data_root=data_root))
test_dataloader = val_dataloader

train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
param_scheduler = [dict(type='PolyLR', eta_min=0., power=0.9, begin=0, end=max_iters,
                        by_epoch=False)]
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=2))
custom_hooks = [dict(type='SegRecordHook')]
randomness = dict(seed=0)
