from . import losses  # noqa: F401
from .backbones import DeepLabV2ResNet, ResNet38  # noqa: F401
from .classifiers import EPSClassifier  # noqa: F401
from .decode_heads import DeepLabV2Head  # noqa: F401
from .pamr import PAMR  # noqa: F401
from .segmentors import DenseCRFSegTTAModel, MultiScaleInputEncoderDecoder  # noqa: F401

__all__ = [
    'DeepLabV2ResNet', 'ResNet38', 'EPSClassifier', 'DeepLabV2Head', 'PAMR', 'DenseCRFSegTTAModel',
    'MultiScaleInputEncoderDecoder', 'losses'
]
