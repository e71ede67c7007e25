"""The best τ of a sweep, and whether it sits at the edge of the grid.

A best τ that is the grid's first or last value may not be the best τ at all:
the curve may still rise beyond it. The choice says so, with the wider grid to
sweep next, instead of passing the edge value on in silence.

Unless the curve is flat. CAMs are scaled to a maximum of 1 per class, so on
healthy CAMs every step of τ moves some pixels between a class and the
background. A score that stays the same over most of the grid means the CAMs
hardly vary within an image: saturated (near 1 over whole images; the
background IoU is then 0 without saliency) or reduced to a few peaks. No τ
range fixes that: the choice says so and points at the classifier instead.
"""
from dataclasses import dataclass
from typing import Optional, Sequence, Tuple

import numpy as np

TAU_MIN, TAU_MAX = 0.0, 1.0  # CAMs are in [0, 1]: no τ outside can change a label
# A curve is flat where consecutive scores differ by at most FLAT_TOL of the best
# score (0.1 %: 0.03 points at 30 mIoU; identical labels give identical scores),
# over at least FLAT_SHARE of the grid's τ (3 of them at least).
FLAT_TOL, FLAT_SHARE = 1e-3, 0.5


@dataclass(frozen=True)
class TauChoice:
    """The best τ of a grid.

    Attributes:
        tau (float): the best τ (the first one on ties).
        index (int): its position in the grid.
        edge (str | None): ``'low'`` / ``'high'`` when it is the grid's
            smallest / largest τ (grids of 2+ values), else None.
        wider (tuple[float] | None): the grid to sweep next: the same step,
            four more values beyond the edge, within [0, 1]; None when the edge
            is 0 or 1 itself (the grid cannot grow that way), or the curve flat.
        flat (tuple[float, float] | None): the first and last τ of the longest
            run over which the score does not change, when it covers
            ``FLAT_SHARE`` of the grid or more; else None.
        background_zero (bool): the background IoU (when given) is 0 over that
            run: every pixel is given a class, i.e. the CAMs are saturated.
    """
    tau: float
    index: int
    edge: Optional[str] = None
    wider: Optional[Tuple[float, ...]] = None
    flat: Optional[Tuple[float, float]] = None
    background_zero: bool = False

    @property
    def at_edge(self) -> bool:
        return self.edge is not None

    def advice(self) -> str:
        """One sentence for a user ('' when τ is inside the grid of a curve that is
        not flat)."""
        if self.flat is not None:
            lo, hi = self.flat
            why = ('and the background IoU is 0: every pixel is given a class, so the '
                   'CAMs are saturated (near 1 over whole images)' if self.background_zero
                   else 'so the CAMs hardly vary within an image (saturated, or a few peaks)')
            return (f'the score is the same for every τ from {lo:g} to {hi:g}: τ changes '
                    f'almost no label there, {why}. No τ range fixes that: check the '
                    'classifier that made the CAMs (its loss curve and iterations, the '
                    'checkpoint given to tools/make_cams.py) and look at the CAMs with '
                    'tools/browse_pseudo_labels.py')
        if self.edge is None:
            return ''
        side = 'smallest' if self.edge == 'low' else 'largest'
        if self.wider is None:
            return (f'best τ={self.tau:g} is the {side} value of the grid and the end of '
                    f'the range [0, 1] too: the best of what any τ can give')
        lo, hi, step = self.wider[0], self.wider[-1], _step(self.wider)
        return (f'best τ={self.tau:g} is the {side} value of the grid: the curve may go on '
                f'rising beyond it; widen the range, e.g. --tau-range {lo:g} {hi:g} {step:g}')


def _step(taus: Sequence[float]) -> float:
    diffs = np.diff(np.sort(np.asarray(taus, dtype=float)))
    diffs = diffs[diffs > 0]
    return float(np.round(diffs.min(), 6)) if len(diffs) else 0.05


def flat_run(taus: Sequence[float], scores: Sequence[float]) -> Optional[Tuple[int, int]]:
    """The first and last index (in τ order) of the longest run of τ over which the
    score does not change (see ``FLAT_TOL``), when it covers ``FLAT_SHARE`` of the
    grid and at least 3 τ; else None. NaN scores break a run."""
    order = np.argsort(np.asarray(taus, dtype=float), kind='stable')
    s = np.asarray(scores, dtype=float)[order]
    if len(s) < 3 or np.isnan(s).all():
        return None
    tol = FLAT_TOL * max(abs(float(np.nanmax(s))), 1e-12)
    same = np.abs(np.diff(s)) <= tol  # NaN compares False
    best, start = (0, 0), 0
    for i, eq in enumerate(np.append(same, False)):
        if not eq:
            if i - start > best[1] - best[0]:
                best = (start, i)
            start = i + 1
    first, last = best
    n = last - first + 1
    if n < 3 or n < FLAT_SHARE * len(s):
        return None
    return int(order[first]), int(order[last])


def choose_tau(taus: Sequence[float], scores: Sequence[float],
               background_iou: Optional[Sequence[float]] = None) -> TauChoice:
    """The best τ of ``taus`` by ``scores`` (NaN: not eligible), flagged when it
    is at the grid's edge or when the curve is flat.

    Args:
        taus (Sequence[float]): the grid, any order.
        scores (Sequence[float]): one score per τ, higher is better; NaN for a
            τ that may not win (e.g. one that ignores nearly every pixel).
        background_iou (Sequence[float], optional): the background's IoU per τ
            (in [0, 1]): 0 (to ``FLAT_TOL``) over a flat run names saturated CAMs.

    Returns:
        TauChoice: the best τ, its edge and the wider grid to sweep next, or
        the flat run.

    Raises:
        ValueError: no τ, a length mismatch, or every score NaN.
    """
    t = np.asarray(taus, dtype=float)
    s = np.asarray(scores, dtype=float)
    if t.ndim != 1 or t.shape != s.shape or not len(t):
        raise ValueError(f'one score per τ needed: {len(t)} τ, {s.size} scores')
    if np.isnan(s).all():
        raise ValueError('every τ has a NaN score: none can be chosen')
    best = int(np.nanargmax(s))
    tau = float(t[best])
    edge = None if len(t) < 2 or t.min() < tau < t.max() else \
        'low' if tau == t.min() else 'high'
    run = flat_run(t, s)
    if run is not None:  # a wider grid would be the wrong advice
        lo, hi = float(t[run[0]]), float(t[run[1]])
        background_zero = False
        if background_iou is not None:
            bg = np.asarray(background_iou, dtype=float)[(t >= lo) & (t <= hi)]
            background_zero = bool(np.nan_to_num(bg, nan=0.0).max() <= FLAT_TOL)
        return TauChoice(tau, best, edge, flat=(lo, hi), background_zero=background_zero)
    if edge is None:
        return TauChoice(tau, best)
    step = _step(t)
    if (edge == 'low' and tau <= TAU_MIN) or (edge == 'high' and tau >= TAU_MAX):
        return TauChoice(tau, best, edge)
    if edge == 'low':
        lo, hi = max(TAU_MIN, tau - 4 * step), float(t.max())
    else:
        lo, hi = float(t.min()), min(TAU_MAX, tau + 4 * step)
    n = int(round((hi - lo) / step))
    wider = tuple(float(np.round(lo + i * step, 6)) for i in range(n + 1))
    return TauChoice(tau, best, edge, wider)
