import os.path as osp
from typing import Dict, List, Optional

import mmengine
import numpy as np
from mmseg.datasets import BaseSegDataset

from mmwsss.functional import (WSSSInputError, cls_labels_from_label_map,
                               parse_cls_label_file, read_label_png)


class BaseWSSSDataset(BaseSegDataset):
    """Common part of the WSSS datasets.

    With ``pseudo_labels=True`` (training) each data info carries the image's
    image-level labels as ``cls_labels`` (0-based foreground class ids) and
    ``num_classes``, and no ``seg_map_path``: the label map is made on the fly
    by ``SaliencyPseudoLabel``. With ``pseudo_labels=False`` (validation) it is
    an ordinary GT dataset read by ``LoadAnnotations``.

    Image-level labels come from ``cls_label_file`` (WSSS-BED list format,
    ``<img_id> <c> ...``) when given, else from the GT label maps under
    ``data_prefix['seg_map_path']``.

    Args:
        ann_file (str): image id list, one a line. When empty, the ids of
            ``cls_label_file`` (or every image of the image folder).
        cls_label_file (str, optional): WSSS-BED image-level label list;
            relative to ``data_root``.
        pseudo_labels (bool): training mode with on-the-fly labels.
    """
    NUM_FG_CLASSES = 0

    def __init__(self,
                 ann_file: str = '',
                 cls_label_file: Optional[str] = None,
                 pseudo_labels: bool = False,
                 img_suffix: str = '.jpg',
                 seg_map_suffix: str = '.png',
                 data_root: Optional[str] = None,
                 **kwargs) -> None:
        if cls_label_file and data_root is not None and not osp.isabs(cls_label_file):
            cls_label_file = osp.join(data_root, cls_label_file)
        self.cls_label_file = cls_label_file
        self.pseudo_labels = pseudo_labels
        super().__init__(ann_file=ann_file, img_suffix=img_suffix,
                         seg_map_suffix=seg_map_suffix, data_root=data_root, **kwargs)

    @classmethod
    def get_label_map(cls, new_classes=None):
        # mmseg only accepts a subset of the dataset's classes; a label set of its
        # own (e.g. the synthetic demo data) keeps its labels as they are.
        old = cls.METAINFO.get('classes')
        if new_classes is not None and old is not None and not set(new_classes) <= set(old):
            return None
        return super().get_label_map(new_classes)

    @property
    def num_fg_classes(self) -> int:
        return len(self._metainfo['classes']) - 1

    def _image_ids(self) -> Optional[List[str]]:
        """Image ids in order, or None to let mmseg scan the image folder."""
        if self.ann_file:
            if not osp.isfile(self.ann_file):
                raise FileNotFoundError(f'{type(self).__name__}: ann_file not found: '
                                        f'{self.ann_file}')
            return [ln.strip() for ln in mmengine.list_from_file(self.ann_file) if ln.strip()]
        return None

    def _cls_labels_from_gt(self, data_list: List[dict]) -> Dict[str, List[int]]:
        out = {}
        for info in mmengine.track_iter_progress(data_list) if len(data_list) > 200 \
                else data_list:
            img_id = osp.splitext(osp.basename(info['img_path']))[0]
            path = info.get('seg_map_path')
            if path is None:
                raise ValueError(f'{type(self).__name__}: image-level labels need either '
                                 'cls_label_file or GT label maps (data_prefix.seg_map_path)')
            out[img_id] = cls_labels_from_label_map(
                read_label_png(path, img_id, 'GT label map'), self.num_fg_classes,
                self.ignore_index)
        return out

    def _data_info(self, img_id: str) -> dict:
        img_dir = self.data_prefix.get('img_path', '')
        ann_dir = self.data_prefix.get('seg_map_path', None)
        info = dict(img_path=osp.join(img_dir, img_id + self.img_suffix),
                    label_map=self.label_map, reduce_zero_label=self.reduce_zero_label,
                    seg_fields=[])
        if ann_dir is not None:
            info['seg_map_path'] = osp.join(ann_dir, img_id + self.seg_map_suffix)
        return info

    def _cls_label_map(self) -> Optional[Dict[str, List[int]]]:
        """Image-level labels from a source other than the GT maps (override)."""
        if self.cls_label_file:
            return parse_cls_label_file(self.cls_label_file, self.num_fg_classes)
        return None

    def load_data_list(self) -> List[dict]:
        ids = self._image_ids()
        labels = self._cls_label_map()
        if ids is None and labels is not None:
            ids = list(labels)
        data_list = [self._data_info(i) for i in ids] if ids is not None \
            else super().load_data_list()
        if not (self.pseudo_labels or labels is not None):
            return data_list  # a plain GT dataset
        if labels is None:
            labels = self._cls_labels_from_gt(data_list)
        missing = []
        for info in data_list:
            img_id = osp.splitext(osp.basename(info['img_path']))[0]
            if img_id not in labels:
                missing.append(img_id)
                continue
            info['cls_labels'] = np.asarray(labels[img_id], dtype=np.int64)
            info['num_classes'] = self.num_fg_classes
        if missing:
            raise WSSSInputError(
                f'{len(missing)} image(s) have no image-level label, e.g. {missing[:5]}',
                path=self.cls_label_file)
        if self.pseudo_labels:
            for info in data_list:  # GT must not leak into training
                info.pop('seg_map_path', None)
        return data_list
