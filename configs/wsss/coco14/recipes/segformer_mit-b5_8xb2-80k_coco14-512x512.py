# SegFormer MiT-B5 on MS COCO 2014 (81 labels, train2014 -> val2014): mmseg's SegFormer recipe
# (segformer_mit-b5_8xb2-160k_ade20k-512x512.py: 8 GPUs x 2 images, crop 512,
# AdamW 6e-5, warm-up 1500 + poly 1.0) with 80k iterations instead of
# 160k (see configs/wsss/README.md).
# Val: the papers' 40,137 val2014 images, ImageSets/val2014_wsss.txt (all 40,504:
# --cfg-options {val,test}_dataloader.dataset.ann_file=ImageSets/val2014.txt).
_base_ = [
    '../../../_base_/models/segformer_mit-b5.py', '../../../_base_/datasets/coco14_wsss.py',
    '../../../_base_/default_runtime.py', '../../../_base_/schedules/schedule_segformer_80k.py'
]
crop_size = (512, 512)
data_preprocessor = dict(size=crop_size)
model = dict(data_preprocessor=data_preprocessor, decode_head=dict(num_classes=81))
train_dataloader = dict(batch_size=2, num_workers=2)
# the recipe's total batch (8 GPUs x 2): tools/slurm_train.sh starts as many GPUs as
# keep it, and every launcher warns when a run's differs (enable=True scales the lr)
auto_scale_lr = dict(enable=False, base_batch_size=16)
