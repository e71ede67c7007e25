# EPS++ on VOC 2012 aug with mmpretrain's ResNet-101 (output stride 8) instead of
# ResNet-38; same recipe as ird_resnet38_1xb8-20k_voc12aug-448x448.py.
_base_ = [
    '../_base_/models/eps_r101-d8.py', '../_base_/datasets/voc12_cls.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_eps_20k.py'
]
crop_size = (448, 448)
model = dict(data_preprocessor=dict(size=crop_size), num_classes=20)
# the recipe's total batch (1 GPU x 8): tools/slurm_train.sh starts as many GPUs as
# keep it, and every launcher warns when a run's differs (enable=True scales the lr)
auto_scale_lr = dict(enable=False, base_batch_size=8)
