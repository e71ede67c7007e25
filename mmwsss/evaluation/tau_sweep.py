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
from mmwsss.fileio import CAMStore, cams_to_unit, cls_labels_from_label_map, read_label_png
from mmwsss.functional import PseudoLabelRule, binarize_saliency
from mmwsss.parallel import track_parallel
from .metrics import _column_lut, label_confusion
from .held_out import PerImageConfusion


def _compact_pixels(gt, sal, cams, classes, labels):
    """Group an image's GT-labelled pixels by what the rule reads of them.

    The rule labels a pixel from its saliency, its best class (highest CAM,
    ties to the lower class id) and that class's CAM value, at every τ
    (:func:`make_pseudo_label` puts the best class against a bound). Pixels
    that share GT, saliency, best class and best value thus fall in one
    confusion cell at every τ: the rule runs once per group, on the CAMs of one
    of its pixels, weighted by the group's size. For uint8 CAMs there are at
    most 2·256·K groups per GT label, found by one dense count, so a sweep
    costs a few passes over the image plus next to nothing per τ.

    Args:
        gt (np.ndarray): H×W uint8 GT.
        sal (np.ndarray | None): H×W bool binarised saliency.
        cams (np.ndarray): K×H×W CAMs, uint8 or float32.
        classes (Sequence[int]): their K class ids.
        labels (np.ndarray): the GT labels to count (those present, but the
            ignore label).

    Returns:
        tuple | None: ``(gt (M,) int64, sal (1×M) bool or None, cams K×1×M
        (the representative pixels' own values), counts (M,))``; None for CAMs
        of another dtype (the caller applies the rule to every pixel).
    """
    k = cams.shape[0]
    if cams.dtype == np.uint8:  # keys below 2**31 (K < 254: labels are uint8)
        levels, wide, key_type = 256, np.uint16 if k < 256 else np.uint32, np.int32
        flat = cams.reshape(k, gt.size)
    elif cams.dtype == np.float32:  # equal bits, equal value (NaN never gets here)
        levels, wide, key_type = 1 << 32, np.uint64, np.int64
        flat = cams.reshape(k, gt.size).view(np.uint32)
    else:
        return None
    # best value and best class in one number: value·K + (K-1 - rank by class id),
    # so the maximum over classes breaks ties to the lower class id, as the rule does
    best = np.zeros(flat.shape[1], wide)
    for rank, i in enumerate(np.argsort(np.asarray(classes, np.int64), kind='stable')):
        np.maximum(best, flat[i].astype(wide) * k + (k - 1 - rank), out=best)
    row = np.full(256, len(labels), key_type)  # ignored GT: one more row, dropped below
    row[labels] = np.arange(len(labels))
    key = row.take(gt.ravel()) * 2
    if sal is not None:
        key += sal.ravel()
    key *= levels * max(k, 1)
    key += best.astype(key_type)
    space = (len(labels) + 1) * 2 * levels * max(k, 1)
    if space <= 1 << 22:  # dense count and any pixel of each group: linear time
        counts = np.bincount(key, minlength=space)
        groups = np.flatnonzero(counts[:space - 2 * levels * max(k, 1)])
        counts = counts[groups]
        pixel = np.empty(space, np.intp)
        pixel[key] = np.arange(key.size)
        rep = pixel[groups]
    else:
        _, rep, counts = np.unique(key, return_index=True, return_counts=True)
        keep = row.take(gt.ravel()[rep]) < len(labels)
        rep, counts = rep[keep], counts[keep]
    s = None if sal is None else sal.ravel()[rep][None]
    return gt.ravel()[rep].astype(np.int64), s, cams.reshape(k, gt.size)[:, None, rep], counts


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
    labels = np.flatnonzero(np.bincount(gt.ravel(), minlength=256))
    labels = labels[labels != ignore]
    if len(labels) and labels[-1] >= n:
        raise ValueError(f'GT label {int(labels[-1])} outside 0..{n - 1}')
    packed = _compact_pixels(gt, sal, cams, classes, labels) if compact else None
    if packed is None:
        preds = [replace(rule, tau=t)(cams, classes, sal) for t in taus]
        return label_confusion(gt, preds, n, ignore)
    g, s, c, counts = packed
    lut = _column_lut(n, ignore)
    cells = np.empty((len(taus), len(g)), np.int64)  # τ, GT row, predicted column
    for t, tau in enumerate(taus):
        pred = replace(rule, tau=tau)(c, classes, s)[0]
        col = lut[pred]
        if col.min(initial=0) < 0:
            raise ValueError(f'predicted label(s) {np.unique(pred[col < 0]).tolist()} '
                             f'outside 0..{n - 1} and {ignore}')
        cells[t] = (t * n + g) * (n + 1) + col
    # float weights are exact: an image has far fewer than 2**53 pixels
    out = np.bincount(cells.ravel(), weights=np.tile(counts, len(taus)),
                      minlength=len(taus) * n * (n + 1))
    return out.astype(np.int64).reshape(len(taus), n, n + 1)


@dataclass(frozen=True)
class TauSweep:
    """A τ sweep over the images of a CAM store (+ a saliency folder).

    Args:
        store (CAMStore): the CAMs.
        rule (PseudoLabelRule): the rule; its ``tau`` is swept.
        taus (tuple[float]): the thresholds.
        num_classes (int): C (foreground classes).
        sal_dir (str, optional): folder of ``<img_id>.png`` saliency maps
            (``saliency`` mode); None for a ``packed`` store, whose files hold
            them.
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
        self.store.check_sal_dir(self.sal_dir)
        if self.rule.needs_saliency and self.sal_dir is None and not self.store.holds_saliency:
            raise ValueError("sal_dir is required in mode 'saliency' (but with a packed store, "
                             'whose files hold the saliency maps)')
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
        need = self.rule.needs_saliency
        sal_path = None if not need or self.sal_dir is None else \
            osp.join(self.sal_dir, img_id + '.png')
        cams, keys, sal = self.store.load_with_saliency(img_id, classes, gt.shape,
                                                        self.num_classes - 1,
                                                        sal_path=sal_path, required=need)
        try:
            if self.crf is not None:
                return self._crf_confusion(item, gt, cams, keys)
            return pseudo_label_confusion(gt, (cams, keys, sal), self.rule, self.taus,
                                          self.num_classes + 1)
        except ValueError as e:
            raise WSSSInputError(str(e), img_id, gt_path) from e

    def _crf_confusion(self, item, gt, cams, keys) -> np.ndarray:
        from mmwsss.fileio.png import check_upright, read_image
        from mmwsss.functional.dense_crf import crf_label
        if len(item) < 4:
            raise ValueError('crf needs the image path in each item (dataset_items gives it)')
        # decoded upright (EXIF applied), the GT and CAMs are not: refused, as in training
        check_upright(item[3], item[0], 'its GT mask and CAMs')
        img = read_image(item[3], item[0])
        if img.shape[:2] != gt.shape:
            raise WSSSInputError(f'image is {img.shape[:2]}, the GT {gt.shape}', item[0],
                                 item[3])
        cams = cams_to_unit(cams)
        preds = [crf_label(img, cams, keys, t, self.crf) for t in self.taus]
        return label_confusion(gt, preds, self.num_classes + 1, self.rule.ignore_index)

    def _score_named(self, item):
        return item[0], self.score(item)

    def run_per_image(self, items: Sequence, nproc: int = 1,
                      quiet: bool = False) -> PerImageConfusion:
        """Each image's T×N×(N+1) confusion, kept apart (one pass): for scores
        on parts of the images and intervals over images."""
        n = self.num_classes + 1
        out = PerImageConfusion((len(self.taus), n, n + 1))
        for img_id, cm in track_parallel(self._score_named, items, nproc=nproc,
                                         desc='scoring', chunksize=16, quiet=quiet):
            out.add(img_id, cm)
        return out

    def run(self, items: Sequence, nproc: int = 1, quiet: bool = False) -> np.ndarray:
        """Sum of the per-image T×N×(N+1) confusion matrices (one pass)."""
        n = self.num_classes + 1
        total = np.zeros((len(self.taus), n, n + 1), dtype=np.int64)
        for cm in track_parallel(self.score, items, nproc=nproc, desc='scoring',
                                 chunksize=16, quiet=quiet):
            total += cm
        return total


def leaf_datasets(dataset_cfg: dict) -> list:
    """The datasets a wrapper config (``RepeatDataset``, ``ConcatDataset``...)
    draws from, in order; a plain dataset config is its own leaf."""
    from mmwsss.config.checks import WRAPPERS
    if dataset_cfg.get('type') not in WRAPPERS:
        return [dataset_cfg]
    inner = dataset_cfg.get('datasets') or dataset_cfg.get('dataset')
    inner = inner if isinstance(inner, (list, tuple)) else [inner]
    return [leaf for d in inner for leaf in leaf_datasets(d)]


def dataset_items(dataset_cfg: dict) -> Tuple[list, int, list]:
    """The items a :class:`TauSweep` scores, from a WSSS dataset config.

    Returns:
        tuple: ``(img_id, GT path, classes or None, image path)`` per image (GT kept: the
        dataset is built with ``pseudo_labels=False``), C, and the class names. A
        semi-supervised set's ``gt_subset`` images are scored like every other image
        (:func:`~mmwsss.config.checks.without_gt_subset`). A wrapped set is
        unwrapped: a ``RepeatDataset``'s images are scored once, a
        ``ConcatDataset``'s parts one after the other (an image listed in two
        parts, once).
    """
    import mmwsss.datasets  # noqa: F401  (registers the datasets)
    from mmseg.registry import DATASETS
    from mmseg.utils import register_all_modules

    from mmwsss.config.checks import without_gt_subset
    register_all_modules(init_default_scope=True)
    items, seen, classes = [], set(), None
    for leaf in leaf_datasets(dataset_cfg):
        leaf, _ = without_gt_subset(leaf)
        dataset = DATASETS.build(dict(leaf, pseudo_labels=False, pipeline=[]))
        names = list(dataset.metainfo['classes'])
        if classes is not None and names != classes:
            raise ValueError(f'the wrapped datasets have different classes ({classes} and '
                             f'{names})')
        classes = names
        for i in range(len(dataset)):
            info = dataset.get_data_info(i)
            if 'seg_map_path' not in info:
                raise ValueError('the dataset has no GT label maps (data_prefix.seg_map_path)')
            if info['img_path'] in seen:
                continue
            seen.add(info['img_path'])
            cls = info.get('cls_labels')
            items.append((info['img_id'], info['seg_map_path'],
                          None if cls is None else [int(c) for c in cls], info['img_path']))
    return items, len(classes) - 1, classes
