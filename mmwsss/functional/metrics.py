"""Scoring pseudo labels against GT for many τ in one pass (plain numpy).

Every pseudo label is made by :func:`make_pseudo_label` (through
:func:`load_unit_cams` / :func:`load_saliency`): the inputs of an image are
read once and the rule is applied once per τ, so a sweep over T thresholds
reads each image once instead of T times.

A confusion matrix has shape N×(N+1) for N labels (background + C classes):
rows are GT labels (GT ``ignore_index`` pixels are not counted), columns the
predicted label, the last column pixels predicted ``ignore_index``.
"""
import warnings
from typing import Dict, Optional, Sequence

import numpy as np

from .errors import WSSSInputError
from .fileio import read_label_png
from .pseudo_label import UINT8_TO_UNIT, make_pseudo_label
from .sources import load_saliency, load_unit_cams


def read_label_map(path: str, img_id: Optional[str] = None) -> np.ndarray:
    """A GT label map as H×W uint8 label ids (palette indices, as mmseg reads them)."""
    return read_label_png(path, img_id, 'GT label map')


def _column_lut(num_labels: int, ignore_index: int) -> np.ndarray:
    """uint8 label value -> confusion column (N = predicted ignore, -1 = invalid)."""
    lut = np.full(256, -1, dtype=np.int64)
    lut[:num_labels] = np.arange(num_labels)
    lut[ignore_index] = num_labels
    return lut


def label_confusion(gt: np.ndarray, preds: Sequence[np.ndarray], num_labels: int,
                    ignore_index: int = 255) -> np.ndarray:
    """Confusion matrices of several predictions of one GT map.

    Args:
        gt (np.ndarray): H×W uint8 GT (0..N-1, ``ignore_index``).
        preds (Sequence[np.ndarray]): T H×W uint8 label maps.
        num_labels (int): N (classes + background).

    Returns:
        np.ndarray: T×N×(N+1) int64.
    """
    gt = np.asarray(gt)
    valid = gt != ignore_index
    g = gt[valid].astype(np.int64)
    if g.size and g.max() >= num_labels:
        raise ValueError(f'GT label {int(g.max())} outside 0..{num_labels - 1}')
    lut = _column_lut(num_labels, ignore_index)
    base = g * (num_labels + 1)
    out = np.empty((len(preds), num_labels, num_labels + 1), dtype=np.int64)
    for t, pred in enumerate(preds):
        col = lut[pred[valid]]
        if col.size and col.min() < 0:
            raise ValueError(f'predicted label(s) outside 0..{num_labels - 1} and '
                             f'{ignore_index}: {np.unique(pred[valid][col < 0]).tolist()}')
        out[t] = np.bincount(base + col, minlength=num_labels *
                             (num_labels + 1)).reshape(num_labels, num_labels + 1)
    return out


def _compact_pixels(gt, sal, cams):
    """Group the GT-labelled pixels of an image by (GT, saliency, CAM values).

    The rule is pixel-wise, so applying it once to each distinct combination
    and weighting by its count gives exactly the per-pixel result. CAMs read
    from uint8 stores (``bed_png``, uint8 ``npz``) take 256 levels, which makes
    the combinations few and cheap to find; returns None otherwise (e.g.
    float16 CAMs), and the caller applies the rule to every pixel.

    Returns:
        tuple | None: ``(gt (M,), sal (M,) bool or None, cams K×1×M, counts (M,))``.
    """
    k = cams.shape[0]
    codes = np.rint(cams * 255).astype(np.uint8)
    if 8 * k + 9 > 62 or not np.array_equal(UINT8_TO_UNIT[codes], cams):
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
    return g_vals[uniq >> 1].astype(np.uint8), s_u, UINT8_TO_UNIT[out_codes][:, None], counts


def pseudo_label_confusion(gt: np.ndarray,
                           img_id: str,
                           cam_dir: str,
                           taus: Sequence[float],
                           num_classes: int,
                           classes: Optional[Sequence[int]] = None,
                           sal_dir: Optional[str] = None,
                           cam_format: str = 'npz',
                           mode: str = 'saliency',
                           sal_threshold: float = 0.2,
                           ignore_unassigned: bool = True,
                           ignore_index: int = 255,
                           allow_pickle: bool = False,
                           compact: bool = True) -> np.ndarray:
    """Confusion matrices (T×N×(N+1)) of an image's pseudo labels at every τ.

    The CAMs and the saliency map are read once; :func:`make_pseudo_label`
    runs once per τ, on the distinct (GT, saliency, CAM) pixel combinations
    when ``compact`` (exactly the same counts, much less work per τ), else on
    the full image. ``classes`` are the image-level labels (None: those the
    CAM store holds).
    """
    hw = gt.shape[:2]
    cams, keys = load_unit_cams(cam_dir, img_id, classes, cam_format, hw, allow_pickle,
                                num_classes - 1)
    sal = None
    if mode == 'saliency':
        if sal_dir is None:
            raise ValueError("sal_dir is required in mode 'saliency'")
        sal = load_saliency(sal_dir, img_id, hw, sal_threshold)
    n = num_classes + 1
    try:
        valid = gt != ignore_index
        if valid.any() and gt[valid].max() >= n:
            raise ValueError(f'GT label {int(gt[valid].max())} outside 0..{n - 1}')
        packed = _compact_pixels(gt[valid], None if sal is None else sal[valid],
                                 cams[:, valid]) if compact else None
        if packed is None:
            preds = [make_pseudo_label(cams, keys, sal, t, mode, ignore_unassigned,
                                       ignore_index) for t in taus]
            return label_confusion(gt, preds, n, ignore_index)
        g, s, c, counts = packed
        lut = _column_lut(n, ignore_index)
        base = g.astype(np.int64) * (n + 1)
        out = np.empty((len(taus), n, n + 1), dtype=np.int64)
        for t, tau in enumerate(taus):
            pred = make_pseudo_label(c, keys, None if s is None else s[None], tau, mode,
                                     ignore_unassigned, ignore_index)[0]
            col = lut[pred]
            if col.min(initial=0) < 0:
                raise ValueError(f'predicted label(s) {np.unique(pred[col < 0]).tolist()} '
                                 f'outside 0..{n - 1} and {ignore_index}')
            out[t] = np.bincount(base + col, weights=counts,
                                 minlength=n * (n + 1)).reshape(n, n + 1).astype(np.int64)
        return out
    except ValueError as e:
        raise WSSSInputError(str(e), img_id) from e


def _div(a, b):
    with np.errstate(divide='ignore', invalid='ignore'):
        return np.where(b > 0, a / np.where(b > 0, b, 1), np.nan)


def scores_from_confusion(cm: np.ndarray) -> Dict[str, np.ndarray]:
    """Per-τ scores from T×N×(N+1) confusion matrices.

    Two conventions for pixels predicted ``ignore_index``: ``excl`` leaves
    them out (as EPS reports), ``miss`` counts them as a miss of the GT class
    (a false negative, no false positive).

    Returns:
        dict: ``iou_excl``, ``iou_miss``, ``precision``, ``recall_excl``,
        ``recall_miss`` (T×N, NaN for a class absent from GT and prediction),
        ``miou_excl``, ``miou_miss``, ``mprecision``, ``mrecall_excl``,
        ``mrecall_miss`` (T,), ``ignored_share`` (T,: share of GT-labelled
        pixels predicted ``ignore_index``).
    """
    cm = np.asarray(cm, dtype=np.float64)
    n = cm.shape[1]
    tp = np.diagonal(cm[:, :, :n], axis1=1, axis2=2)
    pred_sum = cm[:, :, :n].sum(1)
    gt_excl = cm[:, :, :n].sum(2)
    gt_all = cm.sum(2)
    fp = pred_sum - tp
    out = dict(
        iou_excl=_div(tp, gt_excl + fp),
        iou_miss=_div(tp, gt_all + fp),
        precision=_div(tp, pred_sum),
        recall_excl=_div(tp, gt_excl),
        recall_miss=_div(tp, gt_all),
    )
    with warnings.catch_warnings():  # all-NaN rows (no class at all) give NaN
        warnings.simplefilter('ignore', RuntimeWarning)
        out['miou_excl'] = np.nanmean(out['iou_excl'], axis=1)
        out['miou_miss'] = np.nanmean(out['iou_miss'], axis=1)
        out['mprecision'] = np.nanmean(out['precision'], axis=1)
        out['mrecall_excl'] = np.nanmean(out['recall_excl'], axis=1)
        out['mrecall_miss'] = np.nanmean(out['recall_miss'], axis=1)
    total = cm.sum(axis=(1, 2))
    out['ignored_share'] = _div(cm[:, :, n].sum(1), total)
    return out
