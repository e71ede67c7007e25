# EPS++ on VOC 2012 aug with mmpretrain's ResNet-101 (output stride 8) instead of
# ResNet-38; same recipe as ird_resnet38_voc12.py.
_base_ = [
    '../_base_/models/eps_r101-d8.py', '../_base_/datasets/voc12_cls.py',
    'mmseg::_base_/default_runtime.py', '../_base_/schedules/schedule_eps_20k.py'
]
custom_imports = dict(imports=['mmwsss'], allow_failed_imports=False)
crop_size = (448, 448)
model = dict(data_preprocessor=dict(size=crop_size), num_classes=20)
