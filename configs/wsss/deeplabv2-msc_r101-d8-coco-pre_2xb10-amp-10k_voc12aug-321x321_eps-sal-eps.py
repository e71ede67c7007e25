# DeepLab-V2 R-101 as WSSS-BED trains it (multi-scale inputs, COCO-trained start, AMP)
# and selects it (its evaluation protocol) on VOC-12 aug, pseudo labels from EPS's own
# route: WSSS-BED's EPS maps trained with EPS's own saliency (PFAN; key sal_EPS), as EPS
# published them (EPS: tau 0.2, no_saliency mode; WSSS-BED Table 5: 71.1 +- 0.1).
_base_ = [
    './recipes/deeplabv2-msc_r101-d8-coco-pre_2xb10-amp-10k_voc12aug-321x321.py',
    '../_base_/protocols/wsss_bed.py'
]
train_dataloader = dict(
    dataset=dict(
        data_prefix=dict(cam_path='activation_maps/VOC2012_EPS_sal_EPS', sal_path=None),
        pseudo_label_cfg=dict(tau=0.2, mode='no_saliency')))
