# EPS++ on VOC 2012 aug with mmpretrain's ResNet-101 (output stride 8) instead of
# ResNet-38; same recipe.
_base_ = ['./ird_resnet38_voc12.py']
model = dict(
    backbone=dict(
        _delete_=True,
        type='mmpretrain.ResNet',
        depth=101,
        strides=(1, 2, 1, 1),
        dilations=(1, 1, 2, 4),
        out_indices=(3, ),
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=True,
        frozen_stages=1,
        init_cfg=dict(
            type='Pretrained',
            prefix='backbone.',
            checkpoint='https://download.openmmlab.com/mmclassification/v0/resnet/'
            'resnet101_8xb32_in1k_20210831-539c63f8.pth')),
    in_channels=2048)
