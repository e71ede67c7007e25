"""Transforms for training the EPS classifier: image + image-level labels +
saliency map, augmented jointly by mmseg's geometric transforms."""
import os
import os.path as osp
from typing import Optional

import numpy as np
import torch
from mmengine.structures import PixelData
from mmseg.datasets.transforms import PackSegInputs
from mmseg.registry import TRANSFORMS
from mmcv.transforms import BaseTransform

from mmwsss.errors import WSSSInputError, check_arg
from mmwsss.fileio import read_saliency
from mmwsss.fileio.png import check_upright
from .gt_subset import LoadGTSubsetMask  # noqa: F401  (its former home)


@TRANSFORMS.register_module()
class LoadSaliencyMap(BaseTransform):
    """Load an image's saliency map as 8-bit gray into a seg field.

    As a seg field, ``RandomResize`` (nearest), ``RandomCrop`` and
    ``RandomFlip`` transform it together with the image. Place it right after
    ``LoadImageFromFile``.

    The map is ``<sal_dir>/<img_id><suffix>``, or without ``sal_dir`` the
    ``sal_path`` the WSSS dataset puts in the data info (its
    ``data_prefix['sal_path']``), as ``SaliencyPseudoLabel`` reads it.

    Required Keys: ``img_path``, ``img``; ``img_id`` (optional, default the
    file stem of ``img_path``); ``sal_path`` when ``sal_dir`` is None. Added Keys: ``gt_saliency`` (uint8 H×W,
    value/255 is the saliency); ``'gt_saliency'`` joins ``seg_fields``.

    Args:
        sal_dir (str, optional): folder of the saliency maps (e.g. a WSSS-BED
            key folder ``data/wsss_bed/saliency_maps/VOC2012_VST_DUTS``).
            None: the dataset's ``sal_path``.
        suffix (str): file suffix. Default ``'.png'``.
        backend_args (dict, optional): ``mmengine.fileio`` backend arguments.
    """

    def __init__(self, sal_dir: Optional[str] = None, suffix: str = '.png',
                 backend_args: Optional[dict] = None) -> None:
        self.check_args(sal_dir, suffix, backend_args)
        self.sal_dir = sal_dir
        self.suffix = suffix
        self.backend_args = backend_args

    @staticmethod
    def check_args(sal_dir: Optional[str] = None, suffix: str = '.png',
                   backend_args: Optional[dict] = None) -> None:
        """Check the arguments' values, reading no file (the start-up check
        calls it on a config's values). Raises ValueError naming the argument."""
        check_arg('sal_dir', sal_dir is None or isinstance(sal_dir, (str, os.PathLike)),
                  'a folder path or None', sal_dir)
        check_arg('suffix', isinstance(suffix, str) and suffix.startswith('.'),
                  "a file suffix such as '.png'", suffix)
        check_arg('backend_args', backend_args is None or isinstance(backend_args, dict),
                  'a dict or None', backend_args)

    def transform(self, results: dict) -> dict:
        img_id = results.get('img_id') or osp.splitext(osp.basename(results['img_path']))[0]
        if self.sal_dir is not None:
            path = osp.join(self.sal_dir, img_id + self.suffix)
        elif results.get('sal_path'):
            path = results['sal_path']
        else:
            raise WSSSInputError('LoadSaliencyMap has no sal_dir and the dataset gives no '
                                 "sal_path (set its data_prefix['sal_path'])", img_id,
                                 results['img_path'])
        check_upright(results['img_path'], img_id, 'its saliency map')
        results['gt_saliency'] = read_saliency(path, img_id, results['img'].shape[:2],
                                               self.backend_args)
        seg_fields = results.setdefault('seg_fields', [])
        if 'gt_saliency' not in seg_fields:
            seg_fields.append('gt_saliency')
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(sal_dir={self.sal_dir!r}, suffix={self.suffix!r})'


@TRANSFORMS.register_module()
class PackClsSaliencyInputs(PackSegInputs):
    """Pack image, image-level labels and (when loaded) the saliency map.

    On top of :class:`PackSegInputs`, the data sample gets
    ``gt_cls_label`` (float C multi-hot from ``results['cls_labels']`` and
    ``results['num_classes']``, as given by the WSSS datasets with
    ``pseudo_labels=True``) and ``gt_saliency`` (PixelData 1×H×W uint8).

    Args:
        require_positive (bool): an image without any labelled class is an
            error (the classifier's saliency losses need one). Default True.
        meta_keys (Sequence[str]): as :class:`PackSegInputs`.
    """

    def __init__(self, require_positive: bool = True, **kwargs) -> None:
        self.check_args(require_positive)
        super().__init__(**kwargs)
        self.require_positive = require_positive

    @staticmethod
    def check_args(require_positive: bool = True, **kwargs) -> None:
        """Check our argument's value (the start-up check calls it on a
        config's values; ``meta_keys`` is :class:`PackSegInputs`'s)."""
        check_arg('require_positive', isinstance(require_positive, bool), 'True or False',
                  require_positive)

    def transform(self, results: dict) -> dict:
        img_id = results.get('img_id') or \
            osp.splitext(osp.basename(results.get('img_path', '?')))[0]
        if 'cls_labels' not in results or 'num_classes' not in results:
            raise WSSSInputError(
                "no image-level labels ('cls_labels'/'num_classes'): use a WSSS dataset "
                'with pseudo_labels=True', img_id, results.get('img_path'))
        classes = np.asarray(results['cls_labels'], dtype=np.int64).reshape(-1)
        num_classes = int(results['num_classes'])
        bad = classes[(classes < 0) | (classes >= num_classes)]
        if len(bad):
            raise WSSSInputError(f'class id(s) {bad.tolist()} outside 0..{num_classes - 1}',
                                 img_id, results.get('img_path'))
        if self.require_positive and len(classes) == 0:
            raise WSSSInputError('the image has no labelled (positive) class; the EPS '
                                 'classifier needs at least one', img_id,
                                 results.get('img_path'))
        packed = super().transform(results)
        sample = packed['data_samples']
        multi_hot = torch.zeros(num_classes)
        multi_hot[torch.from_numpy(classes)] = 1
        sample.set_data(dict(gt_cls_label=multi_hot))
        if results.get('gt_saliency') is not None:
            sal = np.ascontiguousarray(results['gt_saliency'])
            sample.set_data(dict(gt_saliency=PixelData(data=torch.from_numpy(sal[None]))))
        return packed

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(require_positive={self.require_positive}, '
                f'meta_keys={self.meta_keys})')
