# EPS++ on VOC 2012 aug: the EPS recipe with the IRD saliency loss (PAMR with
# 10 iterations, dilations 1-24).
_base_ = ['./eps_resnet38_voc12.py']
model = dict(
    saliency_loss=dict(_delete_=True, type='ird', num_iter=10, dilations=(1, 2, 4, 8, 12, 24)))
