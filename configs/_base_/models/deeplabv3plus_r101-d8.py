# DeepLab-V3+ R-101-D8: mmseg's deeplabv3plus_r50-d8 with depth 101, as in
# mmseg's deeplabv3plus_r101-d8_* configs.
_base_ = 'mmseg::_base_/models/deeplabv3plus_r50-d8.py'
model = dict(pretrained='open-mmlab://resnet101_v1c', backbone=dict(depth=101))
