"""The GT mask of a ``gt_subset`` image (semi-supervised training), checked."""
import os
import os.path as osp
from typing import Optional

import numpy as np
from mmcv.transforms import BaseTransform
from mmseg.datasets.transforms import LoadAnnotations
from mmseg.registry import TRANSFORMS

from mmwsss.errors import WSSSInputError, check_arg
from mmwsss.fileio.png import check_header_hw, check_upright, is_local, png_header_hw
from mmwsss.functional.pseudo_label import check_ignore_index


@TRANSFORMS.register_module()
class LoadGTSubsetMask(BaseTransform):
    """mmseg's ``LoadAnnotations`` for the images of a WSSS dataset's
    ``gt_subset`` (data info ``gt_label=True``); other images pass unchanged.

    The mask is loaded by ``LoadAnnotations`` itself (bit for bit what mmseg
    reads), after and before the checks that mmseg does not make, each an
    error naming the image and the file: an image with an EXIF orientation tag
    (``LoadImageFromFile`` rotates it, not its mask), a missing, empty or
    undecodable mask, a mask of another size than its image (checked on the
    PNG header before decoding, and on the decoded mask), and values that are
    neither a label (0..``num_classes``) nor ``ignore_index`` (torch would
    stop training later with "Target 45 is out of bounds").

    ``SaliencyPseudoLabel`` loads the ``gt_subset`` masks of the segmentor
    pipelines through it. For the semi-supervised classifier
    (``EPSClassifier(loss_gt_weight>0)``): place it right after
    ``LoadImageFromFile`` so that the mask follows the image through the
    geometric transforms; ``PackClsSaliencyInputs`` packs it as ``gt_sem_seg``.

    Required Keys: ``img_path``, ``ori_shape`` (or ``img``), ``gt_label``,
    ``seg_map_path``, ``seg_fields``; ``img_id`` and ``num_classes``
    (optional; without ``num_classes`` the values are not checked).
    Added Keys: ``gt_seg_map`` (uint8 H×W), appended to ``seg_fields``.

    Args:
        ignore_index (int): the ignore label, allowed in a mask. Default 255.
        backend_args (dict, optional): ``mmengine.fileio`` backend arguments.
    """

    def __init__(self, ignore_index: int = 255, backend_args: Optional[dict] = None) -> None:
        self.check_args(ignore_index, backend_args)
        self.ignore_index = ignore_index
        self.backend_args = backend_args
        self.load = LoadAnnotations(backend_args=backend_args)

    @staticmethod
    def check_args(ignore_index: int = 255, backend_args: Optional[dict] = None) -> None:
        """Check the arguments' values, reading no file (the start-up check
        calls it on a config's values). Raises ValueError naming the argument."""
        check_ignore_index(ignore_index)
        check_arg('backend_args', backend_args is None or isinstance(backend_args, dict),
                  'a dict or None', backend_args)

    def transform(self, results: dict) -> dict:
        if not results.get('gt_label'):
            return results
        img_path, path = results['img_path'], results.get('seg_map_path')
        img_id = results.get('img_id') or osp.splitext(osp.basename(img_path))[0]
        if path is None:
            raise WSSSInputError('a gt_subset image without seg_map_path (its GT mask)',
                                 img_id, img_path)
        check_upright(img_path, img_id, 'its GT mask')
        hw = tuple((results.get('ori_shape') or results['img'].shape)[:2])
        if is_local(path, self.backend_args):
            # before decoding: Pillow's own errors name no file
            try:
                size = os.path.getsize(path)
            except OSError:
                raise WSSSInputError('GT mask of a gt_subset image not found', img_id,
                                     path) from None
            if size == 0:
                raise WSSSInputError('GT mask is empty (0 bytes)', img_id, path)
            with open(path, 'rb') as f:
                check_header_hw(png_header_hw(f.read(24)), hw, 'GT mask', img_id, path)
        try:
            results = self.load(results)
        except FileNotFoundError:
            raise WSSSInputError('GT mask of a gt_subset image not found', img_id,
                                 path) from None
        except Exception as e:  # noqa: BLE001  (PIL / OpenCV errors: no path in them)
            raise WSSSInputError(f'unreadable GT mask ({type(e).__name__}: {e})', img_id,
                                 path) from e
        gt = results['gt_seg_map']
        if gt.shape != hw:
            raise WSSSInputError(
                f'GT mask decodes to shape {gt.shape} but the image is {hw[1]}×{hw[0]} '
                '(W×H): it must be a palette or 8-bit gray PNG of the image\'s size', img_id,
                path)
        num_classes = results.get('num_classes')
        if num_classes is not None:
            values = np.flatnonzero(np.bincount(gt.reshape(-1), minlength=256))
            bad = [int(v) for v in values if v > num_classes and v != self.ignore_index]
            if bad:
                raise WSSSInputError(
                    f'GT mask holds value(s) {bad} that are neither a label '
                    f'(0..{num_classes}) nor the ignore index {self.ignore_index}', img_id,
                    path)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(ignore_index={self.ignore_index}, '
                f'backend_args={self.backend_args})')
