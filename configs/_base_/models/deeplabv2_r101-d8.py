# DeepLab-V2 (ResNet-101, output stride 8, ASPP-L 6/12/18/24 summed), as WSSS-BED
# trains it (seg_networks/DeepLab-V2-Pytorch): BN frozen (running stats and
# affine), no auxiliary head, no dropout.
norm_cfg = dict(type='BN', requires_grad=False)
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255)
model = dict(
    type='EncoderDecoder',
    data_preprocessor=data_preprocessor,
    # ImageNet ResNet-101 (7x7 stem) as mmseg's r101b configs; WSSS-BED starts
    # from its COCO-pretrained DeepLab-V1 caffemodel instead (see README)
    pretrained='torchvision://resnet101',
    backbone=dict(
        type='ResNet',
        depth=101,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        dilations=(1, 1, 2, 4),
        strides=(1, 2, 1, 1),
        norm_cfg=norm_cfg,
        norm_eval=True,
        style='pytorch',
        # every block of a dilated stage dilated (2, 4), as DeepLab-V2 and WSSS-BED's
        # _ResLayer; mmseg's -d8 configs halve the first block's dilation
        contract_dilation=False),
    decode_head=dict(
        type='DeepLabV2Head',
        in_channels=2048,
        in_index=3,
        dilations=(6, 12, 18, 24),
        dropout_ratio=0.,
        num_classes=21,
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
