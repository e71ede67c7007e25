# DeepLab-V2 R-101 on PASCAL VOC 2012 aug as WSSS-BED trains it (its seg_networks/
# DeepLab-V2-Pytorch: main.py, configs/voc12_2gpu.yaml, run_voc2012.sh). The mmseg-style
# recipe beside it (same data, crop 321, batch 20, SGD, poly to 10000 iterations) with
# WSSS-BED's own choices:
# - multi-scale inputs (DeepLabV2_ResNet101_MSC): logits at scales 1, 0.5 and 0.75 and their
#   pixel-wise max, one loss each with the label resized to each (PIL's nearest, no logits
#   upsampled); tested on the max;
# - cross entropy averaged over the pixels that are not ignored (torch's ignore_index=255);
# - its ResNet's stem max pool rounds up (ceil_mode, kazuto1011's _Stem);
# - from DeepLab's COCO-trained ResNet-101 (MODEL.INIT_MODEL) as
#   configs/examples/deeplabv2_r101-d8-coco-pre_*.py: caffe style, BGR minus DeepLab's mean;
#   convert it once with tools/model_converters/deeplabv2_coco2mmseg.py;
# - mixed precision (--amp: autocast and a dynamic loss scale; CUDA only).
# Its leaves add WSSS-BED's evaluation protocol (../_base_/protocols/wsss_bed.py).
_base_ = './deeplabv2_r101-d8_2xb10-10k_voc12aug-321x321.py'
model = dict(
    type='MultiScaleInputEncoderDecoder',
    scales=(1.0, 0.5, 0.75),
    data_preprocessor=dict(mean=[104.008, 116.669, 122.675], std=[1.0, 1.0, 1.0],
                           bgr_to_rgb=False),
    pretrained='pretrain/deeplabv2_resnet101_coco-init.pth',
    backbone=dict(type='DeepLabV2ResNet', style='caffe'),
    decode_head=dict(loss_decode=dict(avg_non_ignore=True)))
optim_wrapper = dict(type='AmpOptimWrapper', loss_scale='dynamic')
