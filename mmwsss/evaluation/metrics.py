"""Confusion matrices of label maps and the scores read from them (plain numpy).

A confusion matrix has shape N×(N+1) for N labels (background + C classes):
rows are GT labels (GT ``ignore_index`` pixels are not counted), columns the
predicted label, the last column pixels predicted ``ignore_index``.
"""
import warnings
from typing import Dict, Sequence

import numpy as np


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
