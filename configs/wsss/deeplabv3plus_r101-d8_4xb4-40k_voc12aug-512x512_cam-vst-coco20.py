# DeepLab-V3+ R-101 on VOC-12 aug, pseudo labels from
# WSSS-BED CAM maps + VST trained on COCO-20 saliency (CAM: tau 0.1, saliency mode).
_base_ = './recipes/deeplabv3plus_r101-d8_4xb4-40k_voc12aug-512x512.py'
train_dataloader = dict(
    dataset=dict(
        data_prefix=dict(
            cam_path='activation_maps/VOC2012_CAM', sal_path='saliency_maps/VOC2012_VST_COCO20'),
        pseudo_label_cfg=dict(tau=0.1, mode='saliency')))
