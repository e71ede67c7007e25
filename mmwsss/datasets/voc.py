from mmseg.datasets import PascalVOCDataset
from mmseg.registry import DATASETS

from .base import BaseWSSSDataset


@DATASETS.register_module()
class VOCWSSSDataset(BaseWSSSDataset):
    """PASCAL VOC 2012 (aug) for WSSS: 20 classes, 21 labels.

    Layout: ``data/VOCdevkit/VOC2012/{JPEGImages, SegmentationClassAug,
    ImageSets/Segmentation}``. For training (``pseudo_labels=True``) it lists
    ``train_aug`` with image-level labels from a WSSS-BED list
    (``cls_label_file``) or from ``SegmentationClassAug``; for validation it
    is an ordinary GT dataset.

    Example:
        >>> train = dict(type='VOCWSSSDataset', data_root='data/VOCdevkit/VOC2012',
        ...              ann_file='ImageSets/Segmentation/train_aug.txt',
        ...              data_prefix=dict(img_path='JPEGImages',
        ...                               seg_map_path='SegmentationClassAug'),
        ...              pseudo_labels=True, pipeline=[...])
    """
    METAINFO = PascalVOCDataset.METAINFO

    def __init__(self,
                 data_prefix: dict = dict(img_path='JPEGImages',
                                          seg_map_path='SegmentationClassAug'),
                 **kwargs) -> None:
        super().__init__(data_prefix=data_prefix, **kwargs)
