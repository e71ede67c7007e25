"""Scoring pseudo labels against GT for many τ in one pass.

The core, :func:`pseudo_label_confusion`, takes one image's arrays (GT, CAMs,
saliency) and applies the rule (:class:`PseudoLabelRule`, i.e.
:func:`make_pseudo_label`) once per τ, so a sweep over T thresholds reads each
image once instead of T times. :class:`TauSweep` reads the images of a CAM
store and sums their confusion matrices (see :mod:`.metrics`).
"""
import os.path as osp
from dataclasses import dataclass, replace
from typing import Optional, Sequence, Tuple

import numpy as np

from mmwsss.errors import WSSSInputError
from mmwsss.fileio import (CAMStore, cams_to_unit, cls_labels_from_label_map, read_label_png,
                           read_saliency)
from mmwsss.functional import UINT8_TO_UNIT, PseudoLabelRule, binarize_saliency
from mmwsss.utils.outputs import track_parallel
from .metrics import _column_lut, label_confusion


def _compact_pixels(gt, sal, cams):
    """Group the GT-labelled pixels of an image by (GT, saliency, CAM values).

    The rule is pixel-wise, so applying it once to each distinct combination
    and weighting by its count gives exactly the per-pixel result. CAMs read
    from uint8 stores (``bed_png``, uint8 ``npz``) take 256 levels, which makes
    the combinations few and cheap to find; returns None otherwise (e.g.
    float16 CAMs), and the caller applies the rule to every pixel.

    Returns:
        tuple | None: ``(gt (M,), sal (M,) bool or None, cams K×1×M uint8,
        counts (M,))``.
    """
    k = cams.shape[0]
    if 8 * k + 9 > 62:
        return None
    if cams.dtype == np.uint8:
        codes = cams
    else:
        codes = np.rint(cams * 255).astype(np.uint8)
        if not np.array_equal(UINT8_TO_UNIT[codes], cams):
            return None
    g_vals = np.flatnonzero(np.bincount(gt, minlength=256))
    g_idx = np.zeros(256, np.int64)
    g_idx[g_vals] = np.arange(len(g_vals))
    key = g_idx[gt] * 2
    if sal is not None:
        key += sal
    for c in codes:  # 8 bits per class
        key = (key << 8) | c
    space = len(g_vals) * 2 << (8 * k)
    if space <= 1 << 20:  # dense count: linear time
        counts = np.bincount(key, minlength=space)
        uniq = np.flatnonzero(counts)
        counts = counts[uniq]
    else:
        uniq, counts = np.unique(key, return_counts=True)
    out_codes = np.empty((k, len(uniq)), np.uint8)
    for i in range(k - 1, -1, -1):
        out_codes[i] = uniq & 255
        uniq = uniq >> 8
    s_u = (uniq & 1).astype(bool) if sal is not None else None
    return g_vals[uniq >> 1].astype(np.uint8), s_u, out_codes[:, None], counts



def pseudo_label_confusion(gt: np.ndarray,
                           maps: Tuple[np.ndarray, Sequence[int], Optional[np.ndarray]],
                           rule: PseudoLabelRule,
                           taus: Sequence[float],
                           num_labels: int,
                           compact: bool = True) -> np.ndarray:
    """Confusion matrices (T×N×(N+1)) of one image's pseudo labels at every τ.

    The rule runs once per τ (``replace(rule, tau=t)``), on the distinct (GT,
    saliency, CAM) pixel combinations when ``compact`` (exactly the same counts,
    much less work per τ), else on the full image.

    Args:
        gt (np.ndarray): H×W uint8 GT (0..N-1, ``rule.ignore_index``).
        maps (tuple): ``(cams, classes, saliency)`` as :meth:`CAMStore.load`
            and :func:`read_saliency` return them: K×H×W CAMs (uint8 or float
            in [0, 1]), K class ids, H×W uint8 saliency (None in
            ``no_saliency`` mode).
        rule (PseudoLabelRule): the rule; its ``tau`` is replaced by each τ.
        taus (Sequence[float]): T thresholds.
        num_labels (int): N (classes + background).
        compact (bool): group equal pixels first.

    Returns:
        np.ndarray: T×N×(N+1) int64.
    """
    cams, classes, saliency = maps
    sal = None
    if rule.needs_saliency:
        if saliency is None:
            raise ValueError("mode 'saliency' needs a saliency map")
        sal = binarize_saliency(saliency, rule.sal_threshold)
    n, ignore = num_labels, rule.ignore_index
    valid = gt != ignore
    if valid.any() and gt[valid].max() >= n:
        raise ValueError(f'GT label {int(gt[valid].max())} outside 0..{n - 1}')
    packed = _compact_pixels(gt[valid], None if sal is None else sal[valid],
                             cams[:, valid]) if compact else None
    if packed is None:
        preds = [replace(rule, tau=t)(cams, classes, sal) for t in taus]
        return label_confusion(gt, preds, n, ignore)
    g, s, c, counts = packed
    s = None if s is None else s[None]
    lut = _column_lut(n, ignore)
    base = g.astype(np.int64) * (n + 1)
    out = np.empty((len(taus), n, n + 1), dtype=np.int64)
    for t, tau in enumerate(taus):
        pred = replace(rule, tau=tau)(c, classes, s)[0]
        col = lut[pred]
        if col.min(initial=0) < 0:
            raise ValueError(f'predicted label(s) {np.unique(pred[col < 0]).tolist()} '
                             f'outside 0..{n - 1} and {ignore}')
        out[t] = np.bincount(base + col, weights=counts,
                             minlength=n * (n + 1)).reshape(n, n + 1).astype(np.int64)
    return out


@dataclass(frozen=True)
class TauSweep:
    """A τ sweep over the images of a CAM store (+ a saliency folder).

    Args:
        store (CAMStore): the CAMs.
        rule (PseudoLabelRule): the rule; its ``tau`` is swept.
        taus (tuple[float]): the thresholds.
        num_classes (int): C (foreground classes).
        sal_dir (str, optional): folder of ``<img_id>.png`` saliency maps
            (``saliency`` mode).
        crf (str, optional): a DenseCRF preset: the CAM-only label of each τ
            (background score τ) is refined with the image, as PSA / IRN refine
            theirs (``no_saliency`` mode; items then carry the image path).
    """
    store: CAMStore
    rule: PseudoLabelRule
    taus: Tuple[float, ...]
    num_classes: int
    sal_dir: Optional[str] = None
    crf: Optional[str] = None

    def __post_init__(self):
        if self.crf is not None and self.rule.needs_saliency:
            raise ValueError("crf refines CAM-only labels: use mode='no_saliency' (PSA / IRN "
                             'apply it without saliency; WSSS-BED applies no CRF to pseudo '
                             'labels)')

    def score(self, item) -> np.ndarray:
        """T×N×(N+1) confusion of one ``(img_id, gt_path, classes or None[,
        img_path])``; classes None: the image-level labels from the GT."""
        img_id, gt_path, classes = item[:3]
        gt = read_label_png(gt_path, img_id, 'GT label map', self.store.backend_args)
        if classes is None:
            classes = cls_labels_from_label_map(gt, self.num_classes, self.rule.ignore_index)
        cams, keys = self.store.load(img_id, classes, gt.shape, self.num_classes - 1)
        sal = None
        if self.rule.needs_saliency:
            if self.sal_dir is None:
                raise ValueError("sal_dir is required in mode 'saliency'")
            sal = read_saliency(osp.join(self.sal_dir, img_id + '.png'), img_id, gt.shape,
                                self.store.backend_args)
        try:
            if self.crf is not None:
                return self._crf_confusion(item, gt, cams, keys)
            return pseudo_label_confusion(gt, (cams, keys, sal), self.rule, self.taus,
                                          self.num_classes + 1)
        except ValueError as e:
            raise WSSSInputError(str(e), img_id, gt_path) from e

    def _crf_confusion(self, item, gt, cams, keys) -> np.ndarray:
        from mmwsss.fileio.png import read_image
        from mmwsss.functional.dense_crf import crf_label
        if len(item) < 4:
            raise ValueError('crf needs the image path in each item (dataset_items gives it)')
        img = read_image(item[3], item[0])
        if img.shape[:2] != gt.shape:
            raise WSSSInputError(f'image is {img.shape[:2]}, the GT {gt.shape}', item[0],
                                 item[3])
        cams = cams_to_unit(cams)
        preds = [crf_label(img, cams, keys, t, self.crf) for t in self.taus]
        return label_confusion(gt, preds, self.num_classes + 1, self.rule.ignore_index)

    def run(self, items: Sequence, nproc: int = 1, quiet: bool = False) -> np.ndarray:
        """Sum of the per-image T×N×(N+1) confusion matrices (one pass)."""
        n = self.num_classes + 1
        total = np.zeros((len(self.taus), n, n + 1), dtype=np.int64)
        for cm in track_parallel(self.score, items, nproc=nproc, desc='scoring',
                                 chunksize=16, quiet=quiet):
            total += cm
        return total


def dataset_items(dataset_cfg: dict) -> Tuple[list, int, list]:
    """The items a :class:`TauSweep` scores, from a WSSS dataset config.

    Returns:
        tuple: ``(img_id, GT path, classes or None, image path)`` per image (GT kept: the
        dataset is built with ``pseudo_labels=False``), C, and the class names. A
        semi-supervised set's ``gt_subset`` images are scored like every other image
        (:func:`~mmwsss.utils.config_check.without_gt_subset`).
    """
    import mmwsss.datasets  # noqa: F401  (registers the datasets)
    from mmseg.registry import DATASETS
    from mmseg.utils import register_all_modules

    from mmwsss.utils.config_check import without_gt_subset
    register_all_modules(init_default_scope=True)
    dataset_cfg, _ = without_gt_subset(dataset_cfg)
    dataset = DATASETS.build(dict(dataset_cfg, pseudo_labels=False, pipeline=[]))
    items = []
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        if 'seg_map_path' not in info:
            raise ValueError('the dataset has no GT label maps (data_prefix.seg_map_path)')
        cls = info.get('cls_labels')
        items.append((info['img_id'], info['seg_map_path'],
                      None if cls is None else [int(c) for c in cls], info['img_path']))
    return items, len(dataset.metainfo['classes']) - 1, list(dataset.metainfo['classes'])
