# EPS classifier on mmpretrain's ResNet-101, output stride 8 (strides 1,2,1,1 and
# dilations 1,1,2,4). For output stride 16: strides=(1, 2, 2, 1), dilations=(1, 1, 1, 2).
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
    size=(448, 448))
model = dict(
    type='EPSClassifier',
    data_preprocessor=data_preprocessor,
    backbone=dict(
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
    num_classes=20,
    in_channels=2048,
    dropout_ratio=0.5,
    # EPS++ (IRD with PAMR: 10 rounds, dilations 1-24, at half the image resolution);
    # the EPS leaves change only the type and its arguments.
    saliency_loss=dict(type='IRDSaliencyLoss'),
    cam_scales=(0.5, 1.0, 1.5, 2.0),
    cam_flip=True)
