# K-Net (UPerNet) Swin-L on MS COCO 2014 (81 labels, train2014 -> val2014): mmseg's K-Net Swin recipe
# (knet-s3_swin-l_upernet_8xb2-adamw-80k_ade20k-512x512.py: 8 GPUs x 2 images,
# crop 512, AdamW 6e-5, clip 1, warm-up 1000, steps at 75%/90%) over 80k
# iterations (see configs/wsss/README.md).
# Val: the papers' 40,137 val2014 images, ImageSets/val2014_wsss.txt (all 40,504:
# --cfg-options {val,test}_dataloader.dataset.ann_file=ImageSets/val2014.txt).
_base_ = [
    '../../../_base_/models/knet-s3_swin-l_upernet.py', '../../../_base_/datasets/coco14_wsss.py',
    '../../../_base_/default_runtime.py', '../../../_base_/schedules/schedule_knet_80k.py'
]
crop_size = (512, 512)
data_preprocessor = dict(size=crop_size)
model = dict(
    data_preprocessor=data_preprocessor,
    decode_head=dict(
        kernel_update_head=[
            dict(head, num_classes=81) for head in _base_.model.decode_head.kernel_update_head
        ],
        kernel_generate_head=dict(num_classes=81)),
    auxiliary_head=dict(num_classes=81))
train_dataloader = dict(batch_size=2, num_workers=2)
# the recipe's total batch (8 GPUs x 2): tools/slurm_train.sh starts as many GPUs as
# keep it, and every launcher warns when a run's differs (enable=True scales the lr)
auto_scale_lr = dict(enable=False, base_batch_size=16)
