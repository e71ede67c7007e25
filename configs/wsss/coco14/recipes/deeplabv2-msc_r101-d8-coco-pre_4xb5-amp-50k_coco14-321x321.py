# DeepLab-V2 R-101 on MS COCO 2014 as WSSS-BED trains it (configs/coco14_4gpu.yaml,
# run_coco2014.sh): the mmseg-style recipe beside it (crop 321, batch 20, poly to 50000
# iterations) with WSSS-BED's multi-scale inputs, loss, stem pooling, COCO-trained start
# and mixed precision, as the VOC recipe
# configs/wsss/recipes/deeplabv2-msc_r101-d8-coco-pre_2xb10-amp-10k_voc12aug-321x321.py
# says.
# Val: the papers' 40,137 val2014 images, ImageSets/val2014_wsss.txt (all 40,504:
# --cfg-options {val,test}_dataloader.dataset.ann_file=ImageSets/val2014.txt). The
# validations during training read the first 5,000 of them, as WSSS-BED's main.py does
# (its `val_iter > 5000` break; 200 validations of all 40,137 would cost more than the
# training); tools/test.py scores all of them.
_base_ = './deeplabv2_r101-d8_4xb5-50k_coco14-321x321.py'
model = dict(
    type='MultiScaleInputEncoderDecoder',
    scales=(1.0, 0.5, 0.75),
    data_preprocessor=dict(mean=[104.008, 116.669, 122.675], std=[1.0, 1.0, 1.0],
                           bgr_to_rgb=False),
    pretrained='pretrain/deeplabv2_resnet101_coco-init.pth',
    backbone=dict(type='DeepLabV2ResNet', style='caffe'),
    decode_head=dict(loss_decode=dict(avg_non_ignore=True)))
optim_wrapper = dict(type='AmpOptimWrapper', loss_scale='dynamic')
val_dataloader = dict(dataset=dict(indices=5000))
