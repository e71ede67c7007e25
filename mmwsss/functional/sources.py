"""Reading the inputs of the pseudo-label rule for one image (CAMs + saliency)
and applying it: shared by the transform, the export and evaluation tools."""
import os.path as osp
from typing import Optional, Sequence, Tuple

import numpy as np

from .cam_store import cam_path, cams_to_unit, load_cams
from .errors import WSSSInputError
from .fileio import read_gray_png
from .pseudo_label import binarize_saliency, make_pseudo_label


def load_saliency(sal_dir: str, img_id: str, hw: Optional[Tuple[int, int]] = None,
                  threshold: float = 0.2) -> np.ndarray:
    """``<sal_dir>/<img_id>.png`` binarised (H×W bool); checked against ``hw``."""
    path = osp.join(sal_dir, f'{img_id}.png')
    sal = read_gray_png(path, img_id, 'saliency map')
    if hw is not None and sal.shape != tuple(hw):
        raise WSSSInputError(
            f'saliency map is {sal.shape[1]}×{sal.shape[0]} (W×H) but the image is '
            f'{hw[1]}×{hw[0]}', img_id, path)
    return binarize_saliency(sal, threshold)


def load_checked_cams(cam_dir: str, img_id: str, classes: Optional[Sequence[int]] = None,
                      cam_format: str = 'bed_png', hw: Optional[Tuple[int, int]] = None,
                      allow_pickle: bool = False,
                      max_class: Optional[int] = None) -> Tuple[np.ndarray, list]:
    """CAMs of an image with all checks done (size against ``hw``, range and
    NaN, class ids in ``0..max_class``): K×H×W uint8 (value / 255) as stored,
    or float32 in [0, 1]. :func:`make_pseudo_label` takes either."""
    cams, keys = load_cams(cam_dir, img_id, classes, cam_format, allow_pickle)
    where = cam_dir if cam_format == 'bed_png' else cam_path(cam_dir, img_id, cam_format)
    bad = [k for k in keys if k < 0 or (max_class is not None and k > max_class)]
    if bad:
        raise WSSSInputError(f'unknown class id(s) {bad} (valid: 0..{max_class})', img_id,
                             where)
    if hw is not None and cams.shape[1:] != tuple(hw):
        raise WSSSInputError(
            f'CAM is {cams.shape[2]}×{cams.shape[1]} (W×H) but the image is '
            f'{hw[1]}×{hw[0]}', img_id, where)
    if cams.dtype == np.uint8:
        return cams, keys
    return cams_to_unit(cams, img_id, where), keys


def load_unit_cams(cam_dir: str, img_id: str, classes: Optional[Sequence[int]] = None,
                   cam_format: str = 'bed_png', hw: Optional[Tuple[int, int]] = None,
                   allow_pickle: bool = False,
                   max_class: Optional[int] = None) -> Tuple[np.ndarray, list]:
    """As :func:`load_checked_cams`, always as K×H×W float32 in [0, 1]."""
    cams, keys = load_checked_cams(cam_dir, img_id, classes, cam_format, hw, allow_pickle,
                                   max_class)
    return cams_to_unit(cams), keys


def pseudo_label_for_image(img_id: str,
                           hw: Tuple[int, int],
                           cam_dir: str,
                           sal_dir: Optional[str],
                           classes: Optional[Sequence[int]] = None,
                           cam_format: str = 'bed_png',
                           tau: float = 0.1,
                           mode: str = 'saliency',
                           sal_threshold: float = 0.2,
                           ignore_unassigned: bool = True,
                           ignore_index: int = 255,
                           allow_pickle: bool = False,
                           num_classes: Optional[int] = None) -> np.ndarray:
    """The H×W uint8 pseudo label of one image from its CAM store and saliency."""
    # Labels are c + 1 in a uint8 map that reserves ignore_index.
    max_class = num_classes - 1 if num_classes is not None else min(ignore_index, 256) - 2
    if classes is not None:
        bad = [int(c) for c in classes if int(c) < 0 or int(c) > max_class]
        if bad:
            raise WSSSInputError(f'unknown class id(s) {bad} (valid: 0..{max_class})', img_id)
    cams, keys = load_checked_cams(cam_dir, img_id, classes, cam_format, hw, allow_pickle,
                                   max_class)
    sal = None
    if mode == 'saliency':
        if sal_dir is None:
            raise ValueError("sal_dir is required in mode 'saliency'")
        sal = load_saliency(sal_dir, img_id, hw, sal_threshold)
    return make_pseudo_label(cams, keys, sal, tau, mode, ignore_unassigned, ignore_index)
