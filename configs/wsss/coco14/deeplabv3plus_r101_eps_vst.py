# DeepLab-V3+ R-101 on COCO-14, pseudo labels from
# WSSS-BED EPS maps trained with VST trained on DUTS saliency
# (EPS: tau 0.2, no_saliency mode; the saliency is in the maps).
_base_ = './recipes/deeplabv3plus_r101-d8_4xb4-80k_coco14-512x512.py'
pseudo_label = dict(
    cam_dir=_base_.bed_root + '/activation_maps/COCO_EPS_VST_DUTS',
    sal_dir=None,
    tau=0.2,
    mode='no_saliency')
train_pipeline = [
    dict(t, **pseudo_label) if t.type == 'SaliencyPseudoLabel' else t
    for t in _base_.train_pipeline
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
