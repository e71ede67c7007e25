# EPS classifier on ResNet-38 (WideResNet-38 of PSA/EPS, output stride 8).
# Pretrained: the converted ImageNet weights of PSA
# (ilsvrc-cls_rna-a1_cls1000_ep-0001.pth, PSA's naming); set `pretrained`.
pretrained = 'pretrain/ilsvrc-cls_rna-a1_cls1000_ep-0001.pth'
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
        type='ResNet38',
        norm_cfg=dict(type='BN', requires_grad=False),
        norm_eval=True,  # PSA/EPS keep BN frozen
        frozen_stages=('conv1a', 'b2', 'b2_1', 'b2_2'),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    num_classes=20,
    in_channels=4096,
    dropout_ratio=0.5,
    # EPS++ (IRD with PAMR: 10 rounds, dilations 1-24, at half the image resolution);
    # the EPS leaves change only the type and its arguments.
    saliency_loss=dict(type='IRDSaliencyLoss'),
    cam_scales=(0.5, 1.0, 1.5, 2.0),
    cam_flip=True)
