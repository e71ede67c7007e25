# EPS++ on VOC 2012 aug: ResNet-38, batch 8, crop 448, 20k iterations, SGD lr 0.01
# with poly 0.9, 10x lr on the head, weight decay 5e-4 (biases: 2x lr, no decay)
# -- the EPS recipe -- with the IRD saliency loss (IRDSaliencyLoss: PAMR with 10
# rounds and dilations 1-24; its defaults are the project's working formulation of
# inconsistent region drop, see docs/method_study.md).
#
# (optimizer and schedule: ../_base_/schedules/schedule_eps_20k.py, which also
# explains the momentum of 5e-4).
_base_ = [
    '../_base_/models/eps_resnet38.py', '../_base_/datasets/voc12_cls.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_eps_20k.py'
]
crop_size = (448, 448)
model = dict(data_preprocessor=dict(size=crop_size), num_classes=20)
# the recipe's total batch (1 GPU x 8): tools/slurm_train.sh starts as many GPUs as
# keep it, and every launcher warns when a run's differs (enable=True scales the lr)
auto_scale_lr = dict(enable=False, base_batch_size=8)
