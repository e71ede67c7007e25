# EPS++ on COCO 2014 train: batch 16, crop 321, otherwise the VOC recipe (SGD lr
# 0.01, poly 0.9, 10x lr on the head, weight decay 5e-4, momentum 5e-4 as EPS
# effectively runs: see ../_base_/schedules/schedule_eps_20k.py) with the IRD
# saliency loss. 100k iterations (about 20 epochs of the 82k labelled images) is
# our choice.
_base_ = [
    '../_base_/models/eps_resnet38.py', '../_base_/datasets/coco14_cls.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_eps_100k.py'
]
crop_size = (321, 321)
model = dict(data_preprocessor=dict(size=crop_size), num_classes=80)
# the recipe's total batch (1 GPU x 16): tools/slurm_train.sh starts as many GPUs as
# keep it, and every launcher warns when a run's differs (enable=True scales the lr)
auto_scale_lr = dict(enable=False, base_batch_size=16)
