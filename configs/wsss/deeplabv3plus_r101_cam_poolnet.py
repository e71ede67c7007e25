# DeepLab-V3+ R-101 on VOC-12 aug, pseudo labels from
# WSSS-BED CAM maps + PoolNet trained on DUTS saliency (CAM: tau 0.1, saliency mode).
_base_ = './recipes/deeplabv3plus_r101-d8_4xb4-40k_voc12aug-512x512.py'
pseudo_label = dict(
    cam_dir=_base_.bed_root + '/activation_maps/VOC2012_CAM',
    sal_dir=_base_.bed_root + '/saliency_maps/VOC2012_PoolNet_DUTS',
    tau=0.1,
    mode='saliency')
train_pipeline = [
    dict(t, **pseudo_label) if t.type == 'SaliencyPseudoLabel' else t
    for t in _base_.train_pipeline
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
