from .resnet38 import ResNet38

__all__ = ['ResNet38']
