# DeepLab-V2 R-101 on MS COCO 2014 (81 labels, train2014 -> val2014), WSSS-BED's recipe:
# crop 321, random scale 0.5-1.5 of the image, flip, batch 20 (4x5),
# 50000 iterations (schedule in schedule_deeplabv2_50k.py). mmseg-style differences: logits are
# upsampled to the label (mmseg) instead of labels downsampled to the logits,
# and no multi-scale-input (MSC) training.
# Val: the papers' 40,137 val2014 images, ImageSets/val2014_wsss.txt (all 40,504:
# --cfg-options {val,test}_dataloader.dataset.ann_file=ImageSets/val2014.txt).
_base_ = [
    '../../../_base_/models/deeplabv2_r101-d8.py', '../../../_base_/datasets/coco14_wsss.py',
    '../../../_base_/default_runtime.py', '../../../_base_/schedules/schedule_deeplabv2_50k.py'
]
crop_size = (321, 321)
data_preprocessor = dict(size=crop_size)
model = dict(data_preprocessor=data_preprocessor, decode_head=dict(num_classes=81))
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
train_dataloader = dict(batch_size=5, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
# the recipe's total batch (4 GPUs x 5): tools/slurm_train.sh starts as many GPUs as
# keep it, and every launcher warns when a run's differs (enable=True scales the lr)
auto_scale_lr = dict(enable=False, base_batch_size=20)
