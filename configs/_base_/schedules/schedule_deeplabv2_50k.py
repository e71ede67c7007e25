# DeepLab-V2 as WSSS-BED trains it on COCO-14 (seg_networks/DeepLab-V2-Pytorch;
# configs/coco14_4gpu.yaml): the VOC optimizer (see schedule_deeplabv2_10k.py),
# poly power 0.9 to 50000 iterations.
_base_ = ['./schedule_deeplabv2_10k.py']
param_scheduler = [
    dict(type='PolyLR', eta_min=0., power=0.9, begin=0, end=50000, by_epoch=False)
]
train_cfg = dict(max_iters=50000, val_interval=5000)
default_hooks = dict(checkpoint=dict(interval=5000))
