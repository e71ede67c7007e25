from .coco import COCOWSSSDataset
from .transforms import SaliencyPseudoLabel
from .voc import VOCWSSSDataset

__all__ = ['VOCWSSSDataset', 'COCOWSSSDataset', 'SaliencyPseudoLabel']
