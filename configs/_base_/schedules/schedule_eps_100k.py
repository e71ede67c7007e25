# The EPS classifier recipe (schedule_eps_20k.py) over 100k iterations (COCO-14:
# about 20 epochs of the 82k labelled images at batch 16; our choice).
_base_ = ['./schedule_eps_20k.py']
param_scheduler = [
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=100000, by_epoch=False)
]
train_cfg = dict(max_iters=100000, val_interval=100001)
default_hooks = dict(checkpoint=dict(interval=10000))
