import copy
import hashlib
import inspect
import os
import os.path as osp
from typing import Dict, List, Optional

import mmengine
import numpy as np
from mmseg.datasets import BaseSegDataset

from mmwsss.errors import WSSSConfigError, WSSSInputError, check_arg
from mmwsss.fileio import (cls_labels_from_label_map, parse_cls_label_file, read_id_list,
                           read_label_png)
from mmwsss.fileio.label_cache import cache_path, cached_labels, files_digest

MAP_KEYS = ('cam_path', 'sal_path')
# what a WSSS dataset reads from its data_prefix: mmseg's two and the maps
DATA_PREFIX_KEYS = ('img_path', 'seg_map_path') + MAP_KEYS


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

    The dataset says where the maps of the pseudo labels are: ``data_prefix``
    may name ``cam_path`` (a CAM store folder) and ``sal_path`` (a folder of
    ``<img_id>.png`` saliency maps), relative to ``maps_root`` (default
    ``data_root``). Each data info then carries ``img_id``, ``cam_path``
    (``<folder>/<img_id>``, the stem of the image's CAM files) and
    ``sal_path``, which ``SaliencyPseudoLabel`` reads, as mmseg's
    ``LoadAnnotations`` reads ``seg_map_path``.

    Args:
        ann_file (str): image id list, one a line. When empty, the ids of
            ``cls_label_file`` (or every image of the image folder).
        cls_label_file (str, optional): WSSS-BED image-level label list;
            relative to ``data_root``.
        pseudo_labels (bool): training mode with on-the-fly labels.
        pseudo_label_cfg (dict, optional): the ``SaliencyPseudoLabel`` step
            (``type`` may be left out), run right after ``LoadImageFromFile``
            when ``pseudo_labels``. It lives here rather than in ``pipeline``
            so that a config changes τ / mode by a dict override.
        maps_root (str, optional): root of ``data_prefix['cam_path']`` and
            ``data_prefix['sal_path']`` (e.g. ``data/wsss_bed``).
        data_prefix (dict): as mmseg's, plus ``cam_path`` and ``sal_path``
            (None: not given).
        gt_subset (str, optional): semi-supervised training: a list file of
            image ids (relative to ``data_root`` or absolute) whose training
            label is their GT mask. Their data infos keep ``seg_map_path`` and
            ``gt_label=True`` (``SaliencyPseudoLabel`` then loads the GT); every
            other image gets its pseudo label as without it. Needs
            ``pseudo_labels`` and ``data_prefix['seg_map_path']``.
    """

    def __init__(self,
                 ann_file: str = '',
                 cls_label_file: Optional[str] = None,
                 pseudo_labels: bool = False,
                 pseudo_label_cfg: Optional[dict] = None,
                 maps_root: Optional[str] = None,
                 img_suffix: str = '.jpg',
                 seg_map_suffix: str = '.png',
                 data_root: Optional[str] = None,
                 data_prefix: dict = dict(img_path=''),
                 pipeline: list = [],
                 gt_subset: Optional[str] = None,
                 **kwargs) -> None:
        self.check_args(ann_file=ann_file, cls_label_file=cls_label_file,
                        pseudo_labels=pseudo_labels, pseudo_label_cfg=pseudo_label_cfg,
                        maps_root=maps_root, img_suffix=img_suffix,
                        seg_map_suffix=seg_map_suffix, data_root=data_root,
                        data_prefix=data_prefix, pipeline=pipeline, gt_subset=gt_subset)
        if gt_subset and data_root is not None and not osp.isabs(gt_subset):
            gt_subset = osp.join(data_root, gt_subset)
        self.gt_subset = gt_subset
        if cls_label_file and data_root is not None and not osp.isabs(cls_label_file):
            cls_label_file = osp.join(data_root, cls_label_file)
        self.cls_label_file = cls_label_file
        self.pseudo_labels = pseudo_labels
        # mmengine joins every data_prefix value to data_root and needs strings;
        # the maps usually live under their own root and may be absent (None).
        data_prefix = dict(data_prefix)
        root = maps_root if maps_root is not None else data_root
        self.maps_prefix = {}
        for key in MAP_KEYS:
            folder = data_prefix.pop(key, None)
            if folder is not None and root and not osp.isabs(folder):
                folder = osp.join(root, folder)
            self.maps_prefix[key] = folder
        if pseudo_labels and pseudo_label_cfg is not None:
            pipeline = self._with_pseudo_label(pipeline, pseudo_label_cfg)
        super().__init__(ann_file=ann_file, img_suffix=img_suffix,
                         seg_map_suffix=seg_map_suffix, data_root=data_root,
                         data_prefix=data_prefix, pipeline=pipeline, **kwargs)
        self.data_prefix.update({k: v for k, v in self.maps_prefix.items() if v is not None})

    @classmethod
    def check_args(cls, **kwargs) -> None:
        """Check the values of our arguments, reading no file: the dataset
        calls it first, and the start-up check calls it on a config's values
        (``pseudo_label_cfg``'s own values are ``SaliencyPseudoLabel``'s to
        check; mmseg's arguments are not looked at).

        Args:
            **kwargs: the arguments of ``__init__`` (its defaults for ours
                that are not given).

        Raises:
            ValueError: naming the argument, what it must be and the value.
        """
        # the config keys are __init__'s: its signature names and defaults them once
        bound = inspect.signature(BaseWSSSDataset.__init__).bind(None, **kwargs)
        bound.apply_defaults()
        a = bound.arguments
        ann_file, pseudo_labels, pseudo_label_cfg, data_prefix, pipeline, gt_subset = (
            a['ann_file'], a['pseudo_labels'], a['pseudo_label_cfg'], a['data_prefix'],
            a['pipeline'], a['gt_subset'])
        path = (str, os.PathLike)
        check_arg('ann_file', isinstance(ann_file, path), "a list file path ('' for none)",
                  ann_file)
        for name in ('cls_label_file', 'maps_root', 'data_root', 'gt_subset'):
            check_arg(name, a[name] is None or isinstance(a[name], path), 'a path or None',
                      a[name])
        check_arg('pseudo_labels', isinstance(pseudo_labels, bool), 'True or False',
                  pseudo_labels)
        check_arg('pseudo_label_cfg', pseudo_label_cfg is None or
                  isinstance(pseudo_label_cfg, dict),
                  'a dict of SaliencyPseudoLabel arguments or None', pseudo_label_cfg)
        for name in ('img_suffix', 'seg_map_suffix'):
            check_arg(name, isinstance(a[name], str), "a file suffix such as '.png'", a[name])
        check_arg('data_prefix', isinstance(data_prefix, dict),
                  "a dict such as dict(img_path='JPEGImages')", data_prefix)
        for key, value in data_prefix.items():
            check_arg(f'data_prefix.{key}', value is None or isinstance(value, path),
                      'a folder path or None', value)
        if gt_subset and not pseudo_labels:
            raise WSSSConfigError(f'gt_subset={gt_subset!r} needs pseudo_labels=True (a '
                                  'training set whose other images get pseudo labels)')
        if pseudo_labels and pseudo_label_cfg is not None:
            cls._with_pseudo_label(pipeline, pseudo_label_cfg)
        cls._check_gt_subset_loader(gt_subset, pipeline)

    @staticmethod
    def _check_gt_subset_loader(gt_subset: Optional[str], pipeline: list) -> None:
        """A classifier's pipeline (``PackClsSaliencyInputs``) with a ``gt_subset``
        must load the subset's masks: without ``LoadGTSubsetMask`` the GT loss of
        ``EPSClassifier(loss_gt_weight=...)`` is 0 in every batch, in silence."""
        names = [t.get('type', '').split('.')[-1] for t in pipeline if isinstance(t, dict)]
        if gt_subset and 'PackClsSaliencyInputs' in names and 'LoadGTSubsetMask' not in names:
            raise ValueError(f'gt_subset={gt_subset!r} is set but the classifier pipeline has no '
                             "LoadGTSubsetMask step: no GT mask would reach the model (its "
                             "loss_gt would be 0); add dict(type='LoadGTSubsetMask') after "
                             'LoadImageFromFile')

    @staticmethod
    def _with_pseudo_label(pipeline: list, cfg: dict) -> list:
        """The pipeline with the ``SaliencyPseudoLabel`` step after
        ``LoadImageFromFile`` (an empty pipeline, as tools build to list the
        images, stays empty)."""
        def name(step):
            return step.get('type', '').split('.')[-1] if isinstance(step, dict) else ''

        pipeline = list(pipeline)
        if any(name(t) == 'LoadAnnotations' for t in pipeline):
            raise ValueError('the training pipeline has LoadAnnotations: it would replace the '
                             'pseudo label by the GT mask; remove it (the gt_subset option '
                             'is how some images train on their GT)')
        if any(name(t) == 'SaliencyPseudoLabel' for t in pipeline):
            raise ValueError('pseudo_label_cfg is given and the pipeline has a '
                             'SaliencyPseudoLabel step: keep one of the two')
        if not pipeline:
            return pipeline
        loads = [i for i, t in enumerate(pipeline) if name(t) == 'LoadImageFromFile']
        if not loads:
            raise ValueError('pseudo_label_cfg needs a LoadImageFromFile step in the pipeline')
        step = dict(type='SaliencyPseudoLabel')
        step.update(copy.deepcopy(dict(cfg)))
        pipeline.insert(loads[0] + 1, step)
        return pipeline

    @property
    def num_fg_classes(self) -> int:
        return len(self._metainfo['classes']) - 1

    def _image_ids(self) -> Optional[List[str]]:
        """Image ids in order, or None to let mmseg scan the image folder."""
        if self.ann_file:
            if not osp.isfile(self.ann_file):
                raise FileNotFoundError(f'{type(self).__name__}: ann_file not found: '
                                        f'{self.ann_file}')
            return read_id_list(self.ann_file)
        return None

    def _cls_labels_from_gt(self, data_list: List[dict]) -> Dict[str, List[int]]:
        """Image-level labels from the GT masks, decoded once and cached beside the
        list (keyed by the list and each mask's bytes; every rank and
        every later run reads the cache)."""
        paths = [info.get('seg_map_path') for info in data_list]
        if not paths:
            return {}
        if None in paths:
            raise ValueError(f'{type(self).__name__}: image-level labels need either '
                             'cls_label_file or GT label maps (data_prefix.seg_map_path)')
        # v2: keyed by the masks' bytes (v1 by size and mtime, blind to a rewrite)
        h = hashlib.sha256(f'gt-cls-labels v2 {self.num_fg_classes} {self.ignore_index}\n'
                           .encode())
        files_digest(paths, h)

        def build():
            out = {}
            for info in mmengine.track_iter_progress(data_list) if len(data_list) > 200 \
                    else data_list:
                out[info['img_id']] = cls_labels_from_label_map(
                    read_label_png(info['seg_map_path'], info['img_id'], 'GT label map'),
                    self.num_fg_classes, self.ignore_index)
            return out

        beside = self.ann_file or osp.dirname(paths[0])
        return cached_labels(cache_path(beside, 'gt-cls-labels', h.hexdigest()), build,
                             self.num_fg_classes, [info['img_id'] for info in data_list])

    def _data_info(self, img_id: str) -> dict:
        img_dir = self.data_prefix.get('img_path', '')
        ann_dir = self.data_prefix.get('seg_map_path', None)
        info = dict(img_path=osp.join(img_dir, img_id + self.img_suffix),
                    label_map=self.label_map, reduce_zero_label=self.reduce_zero_label,
                    seg_fields=[])
        if ann_dir is not None:
            info['seg_map_path'] = osp.join(ann_dir, img_id + self.seg_map_suffix)
        return info

    def _add_map_paths(self, info: dict) -> None:
        """``img_id`` once, and where the image's CAMs and saliency map are."""
        img_id = info.setdefault('img_id', osp.splitext(osp.basename(info['img_path']))[0])
        cam_dir, sal_dir = self.maps_prefix['cam_path'], self.maps_prefix['sal_path']
        if cam_dir is not None:
            info['cam_path'] = osp.join(cam_dir, img_id)
        if sal_dir is not None:
            info['sal_path'] = osp.join(sal_dir, img_id + '.png')

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
        for info in data_list:
            self._add_map_paths(info)
        if not (self.pseudo_labels or labels is not None):
            return data_list  # a plain GT dataset
        if labels is None:
            labels = self._cls_labels_from_gt(data_list)
        missing = []
        for info in data_list:
            img_id = info['img_id']
            if img_id not in labels:
                missing.append(img_id)
                continue
            info['cls_labels'] = np.asarray(labels[img_id], dtype=np.int64)
            info['num_classes'] = self.num_fg_classes
        if missing:
            raise WSSSInputError(
                f'{len(missing)} image(s) have no image-level label, e.g. {missing[:5]}',
                path=self.cls_label_file)
        gt_ids = self._gt_subset_ids(data_list)
        if self.pseudo_labels:
            for info in data_list:  # GT must not leak into the weak images
                if info['img_id'] in gt_ids:
                    info['gt_label'] = True
                else:
                    info.pop('seg_map_path', None)
        return data_list

    def _gt_subset_ids(self, data_list: List[dict]) -> set:
        """The ids of ``gt_subset``, each checked: in the training list, with a
        GT mask on disk."""
        if not self.gt_subset:
            return set()
        if not osp.isfile(self.gt_subset):
            raise WSSSInputError('gt_subset list file not found', path=self.gt_subset)
        ids = read_id_list(self.gt_subset, 'gt_subset list file')
        infos = {info['img_id']: info for info in data_list}
        for img_id in ids:
            if img_id not in infos:
                raise WSSSInputError(f'gt_subset names an image that is not in the training '
                                     f'list {self.ann_file or self.cls_label_file}', img_id,
                                     self.gt_subset)
            path = infos[img_id].get('seg_map_path')
            if path is None:
                raise WSSSInputError("gt_subset needs data_prefix['seg_map_path'] (the GT "
                                     'masks)', img_id, self.gt_subset)
            if not mmengine.fileio.exists(path, backend_args=self.backend_args):
                raise WSSSInputError(f'GT mask of a gt_subset image not found (listed in '
                                     f'{self.gt_subset})', img_id, path)
        return set(ids)
