# EPS (CVPR'21) on VOC 2012 aug: the EPS++ recipe of ird_resnet38_1xb8-20k_voc12aug-448x448.py with
# EPS's saliency loss (tau 0.4, lambda 0.5).
_base_ = ['./ird_resnet38_1xb8-20k_voc12aug-448x448.py']
model = dict(saliency_loss=dict(type='EPSSaliencyLoss', tau=0.4, lam=0.5))
