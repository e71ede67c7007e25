# DeepLab-V2 R-101 started as WSSS-BED and EPS start it, from DeepLab's own ResNet-101
# trained on ImageNet and then on MS-COCO segmentation (DeepLab's init.caffemodel; the
# deeplabv1_resnet101-coco.pth of kazuto1011/deeplab-pytorch that WSSS-BED's
# seg_networks/DeepLab-V2-Pytorch loads), instead of torchvision's ImageNet ResNet-101.
# Convert it once (no Caffe needed):
#   python tools/model_converters/deeplabv2_coco2mmseg.py init.caffemodel \
#       pretrain/deeplabv2_resnet101_coco-init.pth
# Any DeepLab-V2 leaf starts so with these lines and its own _base_. The network is MSRA's
# caffe ResNet: stride on the first 1x1 conv of a block (style='caffe'), BGR input minus
# DeepLab's mean and no std.
_base_ = '../wsss/deeplabv2_r101-d8_2xb10-10k_voc12aug-321x321_eps-vst.py'
model = dict(
    data_preprocessor=dict(mean=[104.008, 116.669, 122.675], std=[1.0, 1.0, 1.0],
                           bgr_to_rgb=False),
    pretrained='pretrain/deeplabv2_resnet101_coco-init.pth',
    backbone=dict(style='caffe'))
