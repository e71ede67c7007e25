from .deeplabv2_resnet import DeepLabV2ResNet
from .resnet38 import ResNet38

__all__ = ['DeepLabV2ResNet', 'ResNet38']
