# EPS++ on COCO 2014 train: the COCO recipe with the IRD saliency loss.
_base_ = ['./eps_resnet38_coco14.py']
model = dict(
    saliency_loss=dict(_delete_=True, type='ird', num_iter=10, dilations=(1, 2, 4, 8, 12, 24)))
