# EPS (CVPR'21) exactly on its own saliency maps: the saliency EPS trained with (PFAN),
# as WSSS-BED ships it (saliency key VOC2012_sal_EPS). The route to EPS's own numbers:
# its released checkpoint scores 69.22 mIoU on VOC train (1,464) at tau 0.2
# (docs/reproducing.md, stage 2). WSSS-BED's own PFAN trained on DUTS is
# saliency_maps/VOC2012_PFAN_DUTS (--cfg-options ...data_prefix.sal_path=...).
_base_ = ['./eps_resnet38_1xb8-20k_voc12aug-448x448.py']
train_dataloader = dict(dataset=dict(data_prefix=dict(sal_path='saliency_maps/VOC2012_sal_EPS')))
