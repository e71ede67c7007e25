"""The best τ of a sweep, and whether it sits at the edge of the grid.

A best τ that is the grid's first or last value may not be the best τ at all:
the curve may still rise beyond it. The choice says so, with the wider grid to
sweep next, instead of passing the edge value on in silence.
"""
from dataclasses import dataclass
from typing import Optional, Sequence, Tuple

import numpy as np

TAU_MIN, TAU_MAX = 0.0, 1.0  # CAMs are in [0, 1]: no τ outside can change a label


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
            is 0 or 1 itself (the grid cannot grow that way).
    """
    tau: float
    index: int
    edge: Optional[str] = None
    wider: Optional[Tuple[float, ...]] = None

    @property
    def at_edge(self) -> bool:
        return self.edge is not None

    def advice(self) -> str:
        """One sentence for a user ('' when τ is inside the grid)."""
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


def choose_tau(taus: Sequence[float], scores: Sequence[float]) -> TauChoice:
    """The best τ of ``taus`` by ``scores`` (NaN: not eligible), flagged when it
    is at the grid's edge.

    Args:
        taus (Sequence[float]): the grid, any order.
        scores (Sequence[float]): one score per τ, higher is better; NaN for a
            τ that may not win (e.g. one that ignores nearly every pixel).

    Returns:
        TauChoice: the best τ, its edge and the wider grid to sweep next.

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
    if len(t) < 2 or t.min() < tau < t.max():
        return TauChoice(tau, best)
    edge = 'low' if tau == t.min() else 'high'
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
