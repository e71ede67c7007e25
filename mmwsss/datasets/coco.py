import hashlib
import os.path as osp
from typing import Dict, List, Optional

from mmseg.registry import DATASETS

from mmwsss.fileio.label_cache import cache_path, cached_labels, file_digest
from mmwsss.functional.palette import voc_colormap
from .base import BaseWSSSDataset
from .coco_labels import (COCO_CLASSES, coco_category_map, coco_cls_labels, coco_image_stem,
                          load_coco)


@DATASETS.register_module()
class COCOWSSSDataset(BaseWSSSDataset):
    """MS COCO 2014 for WSSS: 80 classes, 81 labels.

    Layout: ``data/coco2014/{train2014, val2014, annotations}``; GT label maps
    ``SegmentationClass/<split>/<img_id>.png`` and WSSS-BED lists
    ``cls_labels/<split>.txt`` are made by
    ``tools/dataset_converters/coco2014.py`` with pycocotools.

    ``ann_file`` is an image id list (``.txt``) or a COCO instances file
    (``.json``): with a json, images and image-level labels come from the
    annotations (pycocotools); in training, images without any non-crowd
    instance are left out, as in the WSSS-BED COCO-14 lists.
    """
    METAINFO = dict(classes=('background', ) + COCO_CLASSES, palette=voc_colormap(81))

    def __init__(self,
                 data_prefix: dict = dict(img_path='train2014',
                                          seg_map_path='SegmentationClass/train2014'),
                 **kwargs) -> None:
        self._coco_labels = None
        super().__init__(data_prefix=data_prefix, **kwargs)

    def _load_coco(self) -> Dict[str, List[int]]:
        """``{image stem: [class ids]}`` from the instances json, parsed once and
        cached beside it (keyed by its bytes; every rank and later run reads the
        cache instead of parsing the json again)."""
        if not osp.isfile(self.ann_file):
            raise FileNotFoundError(f'COCOWSSSDataset: ann_file not found: {self.ann_file}')
        # v2: a v1 cache was parsed before check_coco_instances refused bad ids/geometry
        key = file_digest(self.ann_file, hashlib.sha256(b'coco-cls-labels v2\n')).hexdigest()
        return cached_labels(cache_path(self.ann_file, 'cls-labels', key), self._parse_coco,
                             len(COCO_CLASSES))

    def _parse_coco(self) -> Dict[str, List[int]]:
        coco = load_coco(self.ann_file)  # checked before pycocotools sees it
        cat_map = coco_category_map(coco)
        labels = {}
        for image_id in sorted(coco.getImgIds()):
            stem = coco_image_stem(coco, image_id, self.ann_file)
            labels[stem] = coco_cls_labels(coco, image_id, cat_map)
        return labels

    def _image_ids(self) -> Optional[List[str]]:
        if self.ann_file.endswith('.json'):
            self._coco_labels = self._load_coco()
            if self.pseudo_labels:
                return [k for k, v in self._coco_labels.items() if v]
            return list(self._coco_labels)
        return super()._image_ids()

    def _cls_label_map(self) -> Optional[Dict[str, List[int]]]:
        if self.cls_label_file:
            return super()._cls_label_map()
        return self._coco_labels
