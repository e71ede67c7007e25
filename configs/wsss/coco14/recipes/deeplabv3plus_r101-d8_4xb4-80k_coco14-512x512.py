# DeepLab-V3+ R-101-D8 on MS COCO 2014 (81 labels, train2014 -> val2014): mmseg has no
# COCO-14 recipe; its COCO-Stuff164k one for DeepLab-V3 (R-101-D8, 4xb4, 80k)
# 4 GPUs x 4 images, crop 512, SGD lr 0.01, poly 0.9, 80k iterations.
# Val: the papers' 40,137 val2014 images, ImageSets/val2014_wsss.txt (all 40,504:
# --cfg-options {val,test}_dataloader.dataset.ann_file=ImageSets/val2014.txt).
_base_ = [
    '../../../_base_/models/deeplabv3plus_r101-d8.py', '../../../_base_/datasets/coco14_wsss.py',
    '../../../_base_/default_runtime.py', 'mmseg::_base_/schedules/schedule_80k.py'
]
crop_size = (512, 512)
data_preprocessor = dict(size=crop_size)
model = dict(
    data_preprocessor=data_preprocessor,
    decode_head=dict(num_classes=81),
    auxiliary_head=dict(num_classes=81))
train_dataloader = dict(batch_size=4, num_workers=4)
# checkpoints written under a temporary name, then renamed: a crash never loses the last one
default_hooks = dict(checkpoint=dict(type='SafeCheckpointHook', max_keep_ckpts=3))  # 0.47 GiB each
# the recipe's total batch (4 GPUs x 4): tools/slurm_train.sh starts as many GPUs as
# keep it, and every launcher warns when a run's differs (enable=True scales the lr)
auto_scale_lr = dict(enable=False, base_batch_size=16)
