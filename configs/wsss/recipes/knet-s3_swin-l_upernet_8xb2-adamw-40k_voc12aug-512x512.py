# K-Net (UPerNet) Swin-L on PASCAL VOC 2012 aug (21 labels, train_aug -> val): mmseg's K-Net Swin recipe
# (knet-s3_swin-l_upernet_8xb2-adamw-80k_ade20k-512x512.py: 8 GPUs x 2 images,
# crop 512, AdamW 6e-5, clip 1, warm-up 1000, steps at 75%/90%) over 40k
# iterations (see configs/wsss/README.md).
_base_ = [
    '../../_base_/models/knet-s3_swin-l_upernet.py', '../../_base_/datasets/voc12_wsss.py',
    '../../_base_/default_runtime.py', '../../_base_/schedules/schedule_knet_40k.py'
]
crop_size = (512, 512)
data_preprocessor = dict(size=crop_size)
model = dict(
    data_preprocessor=data_preprocessor,
    decode_head=dict(
        kernel_update_head=[
            dict(head, num_classes=21) for head in _base_.model.decode_head.kernel_update_head
        ],
        kernel_generate_head=dict(num_classes=21)),
    auxiliary_head=dict(num_classes=21))
train_dataloader = dict(batch_size=2, num_workers=2)
# the recipe's total batch (8 GPUs x 2): tools/slurm_train.sh starts as many GPUs as
# keep it, and every launcher warns when a run's differs (enable=True scales the lr)
auto_scale_lr = dict(enable=False, base_batch_size=16)
