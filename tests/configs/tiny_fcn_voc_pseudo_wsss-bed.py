# The tiny FCN under WSSS-BED's evaluation protocol (the mixin), validated from 60 % of
# 6 iterations on, every iteration: iterations 4, 5 and 6, the best kept.
_base_ = ['./tiny_fcn_voc_pseudo.py', '../../configs/_base_/protocols/wsss_bed.py']
eval_protocol = dict(val_interval=1)
train_cfg = dict(max_iters=6)
