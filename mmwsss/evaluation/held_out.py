"""Choosing τ on a labelled tuning part and scoring it on the other images.

A τ chosen and scored on the same images is the best of many tries on those
images: an optimistic number, the more so the fewer the images. Users who tune
on val, or on all of train's GT, report it. Here τ is chosen on a tuning part
and the mIoU is measured on the disjoint report part, with a bootstrap
interval over the report images (percentile, seeded); the oracle (τ chosen and
scored on every labelled image) is kept beside it so that the optimism shows.

Confusion matrices are T×N×(N+1) as in :mod:`mmwsss.evaluation.metrics`.
"""
import hashlib
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from .metrics import scores_from_confusion
from .tau_grid import TauChoice, choose_tau

SELECT_KEYS = ('excl', 'miss')


def select_tau(taus: Sequence[float], scores: Mapping[str, Sequence[float]],
               select: str = 'miss', max_ignored: float = 1.0) -> TauChoice:
    """The τ of a part's scores: the best ``miou_<select>`` (the first on ties)
    among the τ whose labels leave at most ``max_ignored`` of the pixels ignored.

    The one rule by which every consumer (the evaluation tool, the method study,
    the demo) chooses τ.

    Args:
        taus (Sequence[float]): the grid.
        scores (Mapping): per-τ lists: ``miou_<select>``, and ``ignored_share``
            (a fraction) when ``max_ignored < 1``; ``iou_<select>`` (T×N),
            when present, lets the choice name saturated CAMs.
        select (str): ``'excl'`` (predicted-ignore pixels left out) or
            ``'miss'`` (counted as misses).
        max_ignored (float): in [0, 1]; a τ whose labels ignore more cannot win
            (under ``excl``, ignoring everything would score best).

    Returns:
        TauChoice: see :func:`choose_tau`.

    Raises:
        ValueError: an unknown ``select``, or no τ eligible.
    """
    if select not in SELECT_KEYS:
        raise ValueError(f'select must be one of {SELECT_KEYS}, got {select!r}')
    curve = np.asarray(scores[f'miou_{select}'], dtype=float)
    if max_ignored < 1:
        curve = np.where(np.asarray(scores['ignored_share'], dtype=float) <= max_ignored,
                         curve, np.nan)
    if np.isnan(curve).all():
        raise ValueError(f'every τ leaves more than {max_ignored:.0%} of the pixels ignored')
    iou = scores.get(f'iou_{select}')
    background = None if iou is None else np.asarray(iou, dtype=float)[:, 0]
    return choose_tau(taus, curve, background_iou=background)


def split_for_tuning(ids: Sequence[str], tune_ids: Optional[Sequence[str]] = None,
                     fraction: Optional[float] = None,
                     seed: int = 0) -> Tuple[List[str], List[str]]:
    """The tuning and report parts of the labelled images, in the order of ``ids``.

    Args:
        ids (Sequence[str]): every labelled image (unique).
        tune_ids (Sequence[str], optional): the tuning part, given.
        fraction (float, optional): or this seeded fraction of ``ids``, in (0, 1).
        seed (int): the draw's seed.

    Raises:
        ValueError: both or neither of ``tune_ids`` and ``fraction``; a tuning id
            not among ``ids``; an empty part.
    """
    from mmwsss.fileio import draw_subset
    if (tune_ids is None) == (fraction is None):
        raise ValueError('give exactly one of tune_ids and fraction')
    if fraction is not None:
        if not 0 < fraction < 1:
            raise ValueError(f'the tuning fraction must be in (0, 1), got {fraction}')
        tune_ids = draw_subset(ids, fraction=fraction, seed=seed)
    tune = set(tune_ids)
    unknown = sorted(tune - set(ids))
    if unknown:
        raise ValueError(f'{len(unknown)} tuning id(s) are not among the {len(ids)} labelled '
                         f'images scored: {unknown[:5]}')
    parts = [i for i in ids if i in tune], [i for i in ids if i not in tune]
    if not parts[0] or not parts[1]:
        raise ValueError(f'the tuning part has {len(parts[0])} of the {len(ids)} images: both '
                         'parts need at least one')
    return parts


def ids_digest(ids: Iterable[str]) -> str:
    """sha256 of the sorted ids, one a line: names a part without listing it."""
    return hashlib.sha256('\n'.join(sorted(ids)).encode()).hexdigest()


class PerImageConfusion:
    """Per-image T×N×(N+1) confusion matrices, kept sparse (an image holds a few
    labels), summed over any part of the images.

    Args:
        shape (tuple): T, N, N+1.
    """

    def __init__(self, shape: Tuple[int, int, int]):
        self.shape = tuple(shape)
        self._cells: Dict[str, Tuple[np.ndarray, np.ndarray]] = {}

    def add(self, img_id: str, cm: np.ndarray):
        if cm.shape != self.shape:
            raise ValueError(f'{img_id}: confusion {cm.shape}, expected {self.shape}')
        flat = cm.reshape(-1)
        idx = np.flatnonzero(flat)
        self._cells[img_id] = idx, flat[idx].astype(np.int64)

    def total(self, ids: Sequence[str]) -> np.ndarray:
        """The summed T×N×(N+1) confusion of ``ids``."""
        idx = np.concatenate([self._cells[i][0] for i in ids])
        val = np.concatenate([self._cells[i][1] for i in ids])
        out = np.bincount(idx, weights=val, minlength=int(np.prod(self.shape)))
        return out.astype(np.int64).reshape(self.shape)

    def bootstrap(self, ids: Sequence[str], tau_index: int, key: str, resamples: int = 1000,
                  seed: int = 0, level: float = 0.95) -> Tuple[float, float]:
        """Percentile bootstrap interval of ``key`` (e.g. ``miou_miss``) at one τ:
        the images of ``ids`` drawn with replacement, their confusions summed.

        Returns:
            tuple: the interval's ends (fractions, as the scores).
        """
        t, n, n1 = self.shape
        cell = n * n1
        lo_cell, hi_cell = tau_index * cell, (tau_index + 1) * cell
        img, idx, val = [], [], []
        for k, i in enumerate(ids):
            c, v = self._cells[i]
            m = (c >= lo_cell) & (c < hi_cell)
            img.append(np.full(m.sum(), k))
            idx.append(c[m] - lo_cell)
            val.append(v[m])
        img, idx, val = np.concatenate(img), np.concatenate(idx), np.concatenate(val)
        rng = np.random.default_rng(seed)
        counts = rng.multinomial(len(ids), np.full(len(ids), 1 / len(ids)), size=resamples)
        cms = np.stack([np.bincount(idx, weights=val * w[img], minlength=cell)
                        for w in counts]).reshape(resamples, n, n1)
        stat = scores_from_confusion(cms)[key]
        tail = 100 * (1 - level) / 2
        lo, hi = np.nanpercentile(stat, [tail, 100 - tail])
        return float(lo), float(hi)


def held_out_tau(per_image: PerImageConfusion, taus: Sequence[float],
                 parts: Tuple[Sequence[str], Sequence[str]], select: str = 'miss',
                 max_ignored: float = 1.0, resamples: int = 1000, seed: int = 0) -> dict:
    """τ chosen on the tuning part (:func:`select_tau`), scored on the report
    part with a bootstrap 95 % interval over the report images; and the oracle:
    τ chosen and scored on both parts together.

    ``parts`` is ``(tune_ids, report_ids)``, as :func:`split_for_tuning` returns.

    Returns:
        dict: ``tau``, ``tune`` (``num_images``, ``ids_sha256``, ``miou`` at τ),
        ``report`` (``num_images``, ``ids_sha256``, ``miou``, ``miou_excl``,
        ``miou_miss``, ``ci95``, ``bootstrap``), ``oracle`` (``tau``, ``miou``,
        ``miou_excl``, ``miou_miss``, ``num_images``, ``note``), ``scores``
        (the report part's full scores, for the caller's per-class fields) and
        ``choice`` (the tuning part's :class:`TauChoice`). mIoU as fractions.
    """
    key = f'miou_{select}'
    tune, report = parts
    tune_scores = scores_from_confusion(per_image.total(tune))
    choice = select_tau(taus, tune_scores, select, max_ignored)
    i = choice.index
    rep = scores_from_confusion(per_image.total(report))
    lo, hi = per_image.bootstrap(report, i, key, resamples, seed)
    everyone = list(tune) + list(report)
    all_scores = scores_from_confusion(per_image.total(everyone))
    oracle = select_tau(taus, all_scores, select, max_ignored)
    j = oracle.index
    return dict(
        tau=float(taus[i]), choice=choice, scores=rep,
        tune=dict(num_images=len(tune), ids_sha256=ids_digest(tune),
                  miou=float(tune_scores[key][i])),
        report=dict(num_images=len(report), ids_sha256=ids_digest(report),
                    miou=float(rep[key][i]), miou_excl=float(rep['miou_excl'][i]),
                    miou_miss=float(rep['miou_miss'][i]), ci95=[lo, hi],
                    bootstrap=dict(resamples=resamples, seed=seed, level=0.95,
                                   over='report images, drawn with replacement')),
        oracle=dict(tau=float(taus[j]), miou=float(all_scores[key][j]),
                    miou_excl=float(all_scores['miou_excl'][j]),
                    miou_miss=float(all_scores['miou_miss'][j]), num_images=len(everyone),
                    note='ORACLE: τ chosen and scored on every labelled image, the tuning '
                    'part included: optimistic, not a held-out number'))
