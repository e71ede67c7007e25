# DeepLab-V2 R-101 on PASCAL VOC 2012 aug (21 labels, train_aug -> val), WSSS-BED's recipe:
# crop 321, random scale 0.5-1.5 of the image, flip, batch 20 (2x10),
# 10000 iterations (schedule in schedule_deeplabv2_10k.py). mmseg-style differences: logits are
# upsampled to the label (mmseg) instead of labels downsampled to the logits,
# and no multi-scale-input (MSC) training.
_base_ = [
    '../../_base_/models/deeplabv2_r101-d8.py', '../../_base_/datasets/voc12_wsss.py',
    '../../_base_/default_runtime.py', '../../_base_/schedules/schedule_deeplabv2_10k.py'
]
crop_size = (321, 321)
data_preprocessor = dict(size=crop_size)
model = dict(data_preprocessor=data_preprocessor, decode_head=dict(num_classes=21))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='RandomChoice',
        transforms=[[dict(type='Resize', scale_factor=s, keep_ratio=True)]
                    for s in (0.5, 0.75, 1.0, 1.25, 1.5)]),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs')
]
# evaluated at the original resolution, as WSSS-BED does
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]
train_dataloader = dict(batch_size=10, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
# the recipe's total batch (2 GPUs x 10): tools/slurm_train.sh starts as many GPUs as
# keep it, and every launcher warns when a run's differs (enable=True scales the lr)
auto_scale_lr = dict(enable=False, base_batch_size=20)
