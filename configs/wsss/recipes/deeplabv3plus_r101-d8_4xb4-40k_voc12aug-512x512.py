# DeepLab-V3+ R-101-D8 on PASCAL VOC 2012 aug (21 labels, train_aug -> val): mmseg's
# deeplabv3plus_r101-d8_4xb4-40k_voc12aug-512x512.py as is:
# 4 GPUs x 4 images, crop 512, SGD lr 0.01, poly 0.9, 40k iterations.
_base_ = [
    '../../_base_/models/deeplabv3plus_r101-d8.py', '../../_base_/datasets/voc12_wsss.py',
    '../../_base_/default_runtime.py', 'mmseg::_base_/schedules/schedule_40k.py'
]
crop_size = (512, 512)
data_preprocessor = dict(size=crop_size)
model = dict(
    data_preprocessor=data_preprocessor,
    decode_head=dict(num_classes=21),
    auxiliary_head=dict(num_classes=21))
train_dataloader = dict(batch_size=4, num_workers=4)
# checkpoints written under a temporary name, then renamed: a crash never loses the last one
default_hooks = dict(checkpoint=dict(type='SafeCheckpointHook', max_keep_ckpts=3))  # 0.47 GiB each
# the recipe's total batch (4 GPUs x 4): tools/slurm_train.sh starts as many GPUs as
# keep it, and every launcher warns when a run's differs (enable=True scales the lr)
auto_scale_lr = dict(enable=False, base_batch_size=16)
