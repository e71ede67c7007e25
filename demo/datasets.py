"""The synthetic dataset as a registered mmseg dataset with its own classes, so
the demo configs name it by type (``custom_imports=['mmwsss', 'demo.datasets']``)."""
from mmseg.registry import DATASETS

from mmwsss.datasets import VOCWSSSDataset
from .synthetic import CLASSES, PALETTE


@DATASETS.register_module()
class SyntheticWSSSDataset(VOCWSSSDataset):
    """The embedded synthetic data (:func:`demo.synthetic.generate_dataset`):
    VOC layout, 5 shape classes, saliency maps under ``wsss_bed/saliency_maps``."""
    METAINFO = dict(classes=CLASSES, palette=[list(p) for p in PALETTE])
