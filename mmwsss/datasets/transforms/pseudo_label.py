import inspect
import os
import os.path as osp
from dataclasses import fields
from typing import Optional, Tuple

import numpy as np
from mmcv.transforms import BaseTransform
from mmseg.registry import TRANSFORMS

from mmwsss.errors import WSSSConfigError, WSSSInputError, check_arg
from mmwsss.fileio import CAMStore
from mmwsss.fileio.png import check_upright
from mmwsss.functional import PseudoLabelRule
from .gt_subset import LoadGTSubsetMask


def pseudo_label_parts(rule: PseudoLabelRule,
                       store: CAMStore,
                       sal_dir: Optional[str] = None,
                       crf: Optional[str] = None) -> Tuple[PseudoLabelRule, CAMStore]:
    """The rule and the CAM store of a :class:`SaliencyPseudoLabel`, checked
    with the saliency folder and the CRF preset they go with, no file read
    (each of the two checks its own values when built).

    Args:
        rule (PseudoLabelRule): τ, mode, thresholds and ignore index.
        store (CAMStore): folder, format, pickling policy, backend.
        sal_dir, crf: as :class:`SaliencyPseudoLabel`.

    Raises:
        ValueError: naming the argument, its allowed values and the value
        given (the message starts with the argument's name).
        ImportError: ``crf`` without the ``[crf]`` extra.
    """
    check_arg('sal_dir', sal_dir is None or isinstance(sal_dir, (str, os.PathLike)),
              'a folder path or None', sal_dir)
    store.check_sal_dir(sal_dir)
    if crf is not None:
        from mmwsss.functional.dense_crf import CRF_PRESETS, _densecrf
        check_arg('crf', crf in CRF_PRESETS, f'None or one of {sorted(CRF_PRESETS)}', crf,
                  CRF_PRESETS)
        if rule.needs_saliency:
            raise WSSSConfigError(f"crf refines CAM-only labels (crf={crf!r}): use "
                                  "mode='no_saliency'")
        _densecrf()  # a missing extra fails here, not at the first image
    return rule, store


@TRANSFORMS.register_module()
class SaliencyPseudoLabel(BaseTransform):
    """Make the training label map on the fly from CAMs + a saliency map.

    Place it right after ``LoadImageFromFile`` and before any geometric
    transform. It holds a :class:`~mmwsss.fileio.CAMStore` (where and how the
    CAMs are stored) and a :class:`~mmwsss.functional.PseudoLabelRule` (the
    rule of WSSS-BED Algorithm 1, :func:`~mmwsss.functional.make_pseudo_label`).

    The dataset says where an image's maps are (``cam_path``, ``sal_path``,
    put in each data info by ``VOCWSSSDataset`` / ``COCOWSSSDataset`` from
    ``data_prefix``); ``cam_dir`` / ``sal_dir``, when set, override them, and
    are how a stock dataset (e.g. mmseg's ``PascalVOCDataset``) names them.

    Required Keys:

    - img_path
    - ori_shape (or img)
    - img_id (optional; default the file stem of ``img_path``)
    - cam_path (optional): the image's CAM file stem, ``<cam_dir>/<img_id>``
    - sal_path (optional): the image's saliency map
    - cls_labels (optional): 0-based class ids; when absent, the classes the
      CAM store holds for the image
    - num_classes (optional): the number of foreground classes, to reject
      unknown class ids and an ``ignore_index`` that is a label (0..num_classes)
    - gt_label, seg_map_path (optional): an image of the dataset's
      ``gt_subset`` (semi-supervised training): its GT mask is loaded as mmseg's
      ``LoadAnnotations`` loads it, bit for bit, instead of a pseudo label, and
      checked by :class:`LoadGTSubsetMask` (EXIF tag, size, values)

    Added Keys:

    - gt_seg_map (np.uint8, H×W): 0 background, c + 1 class c, ``ignore_index``
    - seg_fields: ``'gt_seg_map'`` is appended

    Args:
        cam_dir (str, optional): folder of the CAM store; overrides the data
            info's ``cam_path``.
        sal_dir (str, optional): folder of ``<img_id>.png`` saliency maps;
            overrides the data info's ``sal_path``. Not read in
            ``no_saliency`` mode, nor with ``cam_format='packed'``.
        cam_format (str): ``'bed_png'``, ``'npz'``, ``'npy_dict'`` or
            ``'packed'`` (``tools/pack_maps.py``: each image's uint8 CAMs and
            saliency map in one uncompressed file; the saliency map is the
            pack's, so ``sal_dir`` must be None and ``sal_path`` is not read).
        tau (float): activation threshold τ.
        mode (str): ``'saliency'`` or ``'no_saliency'``.
        sal_threshold (float): salient <=> value / 255 > sal_threshold.
        ignore_unassigned (bool): salient pixels left as background get
            ``ignore_index`` (``saliency`` mode).
        ignore_index (int): the ignore label; above ``num_classes`` and equal to
            the decode head's ``ignore_index``. Default 255.
        allow_pickle (bool): allow ``npy_dict`` stores (pickles run code).
        backend_args (dict, optional): ``mmengine.fileio`` backend arguments
            for the CAM and saliency files, as in ``LoadAnnotations``.
        crf (str, optional): a DenseCRF preset (``'psa'``): the CAM-only label
            (background score τ) is refined with the image (``results['img']``,
            BGR), as PSA / IRN refine theirs; ``no_saliency`` mode only. Needs
            the ``[crf]`` extra. WSSS-BED applies no CRF to pseudo labels.
    """

    def __init__(self,
                 cam_dir: Optional[str] = None,
                 sal_dir: Optional[str] = None,
                 cam_format: str = 'bed_png',
                 tau: float = 0.1,
                 mode: str = 'saliency',
                 sal_threshold: float = 0.2,
                 ignore_unassigned: bool = True,
                 ignore_index: int = 255,
                 allow_pickle: bool = False,
                 backend_args: Optional[dict] = None,
                 crf: Optional[str] = None) -> None:
        self.rule, self.store = self.check_args(
            cam_dir=cam_dir, sal_dir=sal_dir, cam_format=cam_format, tau=tau, mode=mode,
            sal_threshold=sal_threshold, ignore_unassigned=ignore_unassigned,
            ignore_index=ignore_index, allow_pickle=allow_pickle, backend_args=backend_args,
            crf=crf)
        self.sal_dir = sal_dir
        self.load_gt = LoadGTSubsetMask(ignore_index, backend_args)  # gt_subset images
        self.crf = crf

    @classmethod
    def check_args(cls, **kwargs) -> Tuple[PseudoLabelRule, CAMStore]:
        """Check the arguments' values, reading no file, and return the rule
        and the CAM store they make: the transform's ``__init__`` and the
        start-up check (on a config's values) both call it.

        Args:
            **kwargs: the arguments of ``__init__`` (its defaults for the
                others).

        Raises:
            TypeError: an argument ``__init__`` does not take.
            ValueError, ImportError: as :func:`pseudo_label_parts`.
        """
        # the config keys are __init__'s: its signature names and defaults them once
        args = inspect.signature(SaliencyPseudoLabel.__init__).bind(None, **kwargs)
        args.apply_defaults()
        a = args.arguments
        rule = PseudoLabelRule(**{f.name: a[f.name] for f in fields(PseudoLabelRule)})
        store = CAMStore(**{f.name: a[f.name] for f in fields(CAMStore)})
        return pseudo_label_parts(rule, store, a['sal_dir'], a['crf'])

    def _sal_path(self, results: dict, img_id: str) -> str:
        if self.sal_dir is not None:
            return osp.join(self.sal_dir, img_id + '.png')
        if results.get('sal_path') is None:
            raise WSSSInputError(
                "no saliency map: set sal_dir, or data_prefix['sal_path'] on a WSSS "
                "dataset, or use mode='no_saliency'", img_id, results.get('img_path'))
        return results['sal_path']

    def _cam_stem(self, results: dict, img_id: str) -> str:
        if self.store.cam_dir is not None:
            return self.store.stem(img_id)
        if results.get('cam_path') is None:
            raise WSSSInputError(
                "no CAM store: set cam_dir, or data_prefix['cam_path'] on a WSSS dataset",
                img_id, results.get('img_path'))
        return results['cam_path']

    def transform(self, results: dict) -> dict:
        if results.get('gt_label'):
            return self.load_gt(results)
        img_id = results.get('img_id') or osp.splitext(osp.basename(results['img_path']))[0]
        hw = tuple((results.get('ori_shape') or results['img'].shape)[:2])
        check_upright(results['img_path'], img_id, 'the CAM/saliency maps')
        if results.get('img') is not None and tuple(results['img'].shape[:2]) != hw:
            # the maps are at the original size: a label made here would not fit the image
            raise WSSSInputError(
                f'the image is {results["img"].shape[:2]} but was loaded at {hw}: place '
                'SaliencyPseudoLabel right after LoadImageFromFile, before any resize, crop '
                'or flip', img_id, results.get('img_path'))
        classes = results.get('cls_labels')
        if classes is not None:
            classes = np.asarray(classes).reshape(-1).tolist()
        num_classes = results.get('num_classes')
        if num_classes is not None and self.rule.ignore_index <= num_classes:
            # labels are 0..num_classes: an ignore index among them marks its pixels
            # as a class ("person" for 15 on VOC) and trains on them in silence
            raise ValueError(
                f'image {img_id!r}: ignore_index={self.rule.ignore_index} is a label of '
                f'this dataset ({num_classes} classes: labels 0..{num_classes}); use an '
                f'ignore index above {num_classes}, e.g. 255, the same as the decode head\'s')
        max_class = self.rule.max_class if num_classes is None else num_classes - 1
        stem = self._cam_stem(results, img_id)
        need = self.rule.needs_saliency
        # a packed store's files hold the saliency maps: no sal_path is read
        sal_path = self._sal_path(results, img_id) if need and \
            not self.store.holds_saliency else None
        cams, keys, sal = self.store.load_with_saliency(img_id, classes, hw, max_class, stem,
                                                        sal_path, need)
        if self.crf is None:
            results['gt_seg_map'] = self.rule(cams, keys, sal)
        else:
            from mmwsss.fileio import cams_to_unit
            from mmwsss.functional.dense_crf import crf_label
            rgb = np.ascontiguousarray(results['img'][..., ::-1])
            results['gt_seg_map'] = crf_label(rgb, cams_to_unit(cams), keys, self.rule.tau,
                                              self.crf)
        seg_fields = results.setdefault('seg_fields', [])
        if 'gt_seg_map' not in seg_fields:
            seg_fields.append('gt_seg_map')
        return results

    def __repr__(self) -> str:
        r, s = self.rule, self.store
        return (f'{self.__class__.__name__}(cam_dir={s.cam_dir!r}, sal_dir={self.sal_dir!r}, '
                f'cam_format={s.cam_format!r}, tau={r.tau}, mode={r.mode!r}, '
                f'sal_threshold={r.sal_threshold}, ignore_unassigned={r.ignore_unassigned}, '
                f'ignore_index={r.ignore_index}, allow_pickle={s.allow_pickle}, '
                f'backend_args={s.backend_args}, crf={self.crf!r})')
