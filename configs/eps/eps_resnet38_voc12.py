# EPS (CVPR'21) on VOC 2012 aug: ResNet-38, batch 8, crop 448, 20k iterations,
# SGD lr 0.01 with poly 0.9, 10x lr on the head, weight decay 5e-4 (biases:
# 2x lr, no decay), saliency loss `eps` with tau 0.4 and lambda 0.5.
#
# (optimizer and schedule: ../_base_/schedules/schedule_eps_20k.py, which also
# explains the momentum of 5e-4).
_base_ = [
    '../_base_/models/eps_resnet38.py', '../_base_/datasets/voc12_cls.py',
    'mmseg::_base_/default_runtime.py', '../_base_/schedules/schedule_eps_20k.py'
]
custom_imports = dict(imports=['mmwsss'], allow_failed_imports=False)
crop_size = (448, 448)
model = dict(
    data_preprocessor=dict(size=crop_size),
    num_classes=20,
    saliency_loss=dict(_delete_=True, type='eps', tau=0.4, lam=0.5))
