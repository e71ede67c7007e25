# EPS on COCO 2014 train: the COCO recipe of ird_resnet38_1xb16-100k_coco14-321x321.py with EPS's
# saliency loss (tau 0.4, lambda 0.9 on COCO).
_base_ = ['./ird_resnet38_1xb16-100k_coco14-321x321.py']
model = dict(saliency_loss=dict(type='EPSSaliencyLoss', tau=0.4, lam=0.9))
