# SegFormer MiT-B5 on PASCAL VOC 2012 aug (21 labels, train_aug -> val): mmseg's SegFormer recipe
# (segformer_mit-b5_8xb2-160k_ade20k-512x512.py: 8 GPUs x 2 images, crop 512,
# AdamW 6e-5, warm-up 1500 + poly 1.0) with 40k iterations instead of
# 160k (see configs/wsss/README.md).
_base_ = [
    '../../_base_/models/segformer_mit-b5.py', '../../_base_/datasets/voc12_wsss.py',
    '../../_base_/default_runtime.py', '../../_base_/schedules/schedule_segformer_40k.py'
]
crop_size = (512, 512)
data_preprocessor = dict(size=crop_size)
model = dict(data_preprocessor=data_preprocessor, decode_head=dict(num_classes=21))
train_dataloader = dict(batch_size=2, num_workers=2)
# the recipe's total batch (8 GPUs x 2): tools/slurm_train.sh starts as many GPUs as
# keep it, and every launcher warns when a run's differs (enable=True scales the lr)
auto_scale_lr = dict(enable=False, base_batch_size=16)
