# SegFormer MiT-B5 on COCO-14, pseudo labels from
# WSSS-BED EPS maps trained with VST trained on DUTS saliency
# (EPS: tau 0.2, no_saliency mode; the saliency is in the maps).
# Val: the papers' 40,137 val2014 images, ImageSets/val2014_wsss.txt (all 40,504:
# --cfg-options {val,test}_dataloader.dataset.ann_file=ImageSets/val2014.txt).
_base_ = './recipes/segformer_mit-b5_8xb2-80k_coco14-512x512.py'
train_dataloader = dict(
    dataset=dict(
        data_prefix=dict(cam_path='activation_maps/COCO_EPS_VST_DUTS', sal_path=None),
        pseudo_label_cfg=dict(tau=0.2, mode='no_saliency')))
