import os.path as osp
from typing import Optional

import numpy as np
from mmcv.transforms import BaseTransform
from mmseg.registry import TRANSFORMS

from mmwsss.functional import CAM_FORMATS, MODES, pseudo_label_for_image


@TRANSFORMS.register_module()
class SaliencyPseudoLabel(BaseTransform):
    """Make the training label map on the fly from CAMs + a saliency map.

    Place it right after ``LoadImageFromFile`` and before any geometric
    transform. The rule is :func:`mmwsss.functional.make_pseudo_label`
    (WSSS-BED Algorithm 1).

    Required Keys: ``img_path``, ``img_shape`` (or ``img``); optional
    ``cls_labels`` (0-based class ids; when absent, the classes the CAM store
    holds for the image) and ``num_classes`` (to reject unknown class ids).

    Added Keys: ``gt_seg_map`` (uint8 H×W); ``'gt_seg_map'`` is appended to
    ``seg_fields``.

    Args:
        cam_dir (str): folder of the CAM store.
        sal_dir (str, optional): folder of ``<img_id>.png`` saliency maps;
            None is allowed only in ``no_saliency`` mode.
        cam_format (str): ``'bed_png'``, ``'npz'`` or ``'npy_dict'``.
        tau (float): activation threshold τ.
        mode (str): ``'saliency'`` or ``'no_saliency'``.
        sal_threshold (float): salient <=> value / 255 > sal_threshold.
        ignore_unassigned (bool): salient pixels left as background get
            ``ignore_index`` (``saliency`` mode).
        ignore_index (int): the ignore label. Default 255.
        allow_pickle (bool): allow ``npy_dict`` stores (pickles run code).
    """

    def __init__(self,
                 cam_dir: str,
                 sal_dir: Optional[str] = None,
                 cam_format: str = 'bed_png',
                 tau: float = 0.1,
                 mode: str = 'saliency',
                 sal_threshold: float = 0.2,
                 ignore_unassigned: bool = True,
                 ignore_index: int = 255,
                 allow_pickle: bool = False) -> None:
        if cam_format not in CAM_FORMATS:
            raise ValueError(f'cam_format must be one of {CAM_FORMATS}, got {cam_format!r}')
        if mode not in MODES:
            raise ValueError(f'mode must be one of {MODES}, got {mode!r}')
        if mode == 'saliency' and sal_dir is None:
            raise ValueError("sal_dir=None is allowed only with mode='no_saliency'")
        if not 0 < ignore_index <= 255:
            raise ValueError(f'ignore_index must be in 1..255 (uint8 labels), got {ignore_index}')
        self.cam_dir = cam_dir
        self.sal_dir = sal_dir
        self.cam_format = cam_format
        self.tau = tau
        self.mode = mode
        self.sal_threshold = sal_threshold
        self.ignore_unassigned = ignore_unassigned
        self.ignore_index = ignore_index
        self.allow_pickle = allow_pickle

    def transform(self, results: dict) -> dict:
        img_id = osp.splitext(osp.basename(results['img_path']))[0]
        hw = results.get('ori_shape') or results['img'].shape[:2]
        classes = results.get('cls_labels')
        label = pseudo_label_for_image(
            img_id, tuple(hw[:2]), self.cam_dir, self.sal_dir,
            classes=None if classes is None else np.asarray(classes).reshape(-1).tolist(),
            cam_format=self.cam_format, tau=self.tau, mode=self.mode,
            sal_threshold=self.sal_threshold, ignore_unassigned=self.ignore_unassigned,
            ignore_index=self.ignore_index, allow_pickle=self.allow_pickle,
            num_classes=results.get('num_classes'))
        results['gt_seg_map'] = label
        seg_fields = results.setdefault('seg_fields', [])
        if 'gt_seg_map' not in seg_fields:
            seg_fields.append('gt_seg_map')
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(cam_dir={self.cam_dir!r}, sal_dir={self.sal_dir!r}, '
                f'cam_format={self.cam_format!r}, tau={self.tau}, mode={self.mode!r}, '
                f'sal_threshold={self.sal_threshold}, '
                f'ignore_unassigned={self.ignore_unassigned}, '
                f'ignore_index={self.ignore_index}, allow_pickle={self.allow_pickle})')
