# DeepLab-V2 R-101 as WSSS-BED trains it (multi-scale inputs, COCO-trained start, AMP)
# and selects it (its evaluation protocol) on VOC-12 aug, pseudo labels from
# WSSS-BED CAM maps + EPS's own saliency (PFAN; key sal_EPS) (CAM: tau 0.1, saliency
# mode; WSSS-BED Table 5: 65.7 +- 0.3).
_base_ = [
    './recipes/deeplabv2-msc_r101-d8-coco-pre_2xb10-amp-10k_voc12aug-321x321.py',
    '../_base_/protocols/wsss_bed.py'
]
train_dataloader = dict(
    dataset=dict(
        data_prefix=dict(
            cam_path='activation_maps/VOC2012_CAM', sal_path='saliency_maps/VOC2012_sal_EPS'),
        pseudo_label_cfg=dict(tau=0.1, mode='saliency')))
