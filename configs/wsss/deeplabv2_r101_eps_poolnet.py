# DeepLab-V2 R-101 on VOC-12 aug, pseudo labels from
# WSSS-BED EPS maps trained with PoolNet trained on DUTS saliency
# (EPS: tau 0.2, no_saliency mode; the saliency is in the maps).
_base_ = './recipes/deeplabv2_r101-d8_2xb10-10k_voc12aug-321x321.py'
pseudo_label = dict(
    cam_dir=_base_.bed_root + '/activation_maps/VOC2012_EPS_PoolNet_DUTS',
    sal_dir=None,
    tau=0.2,
    mode='no_saliency')
train_pipeline = [
    dict(t, **pseudo_label) if t.type == 'SaliencyPseudoLabel' else t
    for t in _base_.train_pipeline
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
