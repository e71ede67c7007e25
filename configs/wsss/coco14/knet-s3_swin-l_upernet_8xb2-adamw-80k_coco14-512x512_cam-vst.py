# K-Net Swin-L on COCO-14, pseudo labels from
# WSSS-BED CAM maps + VST trained on DUTS saliency (CAM: tau 0.1, saliency mode).
_base_ = './recipes/knet-s3_swin-l_upernet_8xb2-adamw-80k_coco14-512x512.py'
train_dataloader = dict(
    dataset=dict(
        data_prefix=dict(
            cam_path='activation_maps/COCO_CAM', sal_path='saliency_maps/COCO2014_VST_DUTS'),
        pseudo_label_cfg=dict(tau=0.1, mode='saliency')))
