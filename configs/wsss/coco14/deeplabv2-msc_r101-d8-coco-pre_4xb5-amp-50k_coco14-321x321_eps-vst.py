# DeepLab-V2 R-101 as WSSS-BED trains it (multi-scale inputs, COCO-trained start, AMP)
# and selects it (its evaluation protocol) on COCO-14, pseudo labels from
# WSSS-BED EPS maps trained with VST trained on DUTS saliency
# (EPS: tau 0.2, no_saliency mode; the saliency is in the maps).
# Val: the papers' 40,137 val2014 images, ImageSets/val2014_wsss.txt (all 40,504:
# --cfg-options {val,test}_dataloader.dataset.ann_file=ImageSets/val2014.txt).
_base_ = [
    './recipes/deeplabv2-msc_r101-d8-coco-pre_4xb5-amp-50k_coco14-321x321.py',
    '../../_base_/protocols/wsss_bed.py'
]
train_dataloader = dict(
    dataset=dict(
        data_prefix=dict(cam_path='activation_maps/COCO_EPS_VST_DUTS', sal_path=None),
        pseudo_label_cfg=dict(tau=0.2, mode='no_saliency')))
