"""The pseudo-label rule of WSSS-BED (Algorithm 1), the one implementation.

Everything that makes pseudo labels (the ``SaliencyPseudoLabel`` transform, the
export and evaluation tools, the demo) calls :func:`make_pseudo_label`, most
through :class:`PseudoLabelRule`, which holds its settings. Plain numpy.
"""
import math
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from mmwsss.errors import check_arg

MODES = ('saliency', 'no_saliency')

# value/255 in float32, as WSSS-BED computes it: comparisons with a threshold then
# match its results bit for bit (e.g. a saliency PNG value of 51 is exactly 0.2).
UINT8_TO_UNIT = np.arange(256, dtype=np.float32) / np.float32(255)


def binarize_saliency(sal_u8: np.ndarray, threshold: float = 0.2) -> np.ndarray:
    """Binarise an 8-bit saliency map: salient <=> value / 255 > threshold.

    Args:
        sal_u8 (np.ndarray): H×W uint8 saliency map.
        threshold (float): strict threshold on value / 255.

    Returns:
        np.ndarray: H×W bool, True where salient.
    """
    # The smallest 8-bit value whose value / 255 exceeds the threshold: one uint8
    # comparison instead of a float conversion.
    first = int(np.searchsorted(UINT8_TO_UNIT, np.float32(threshold), side='right'))
    return np.asarray(sal_u8, dtype=np.uint8) >= first


def make_pseudo_label(cams: np.ndarray,
                      classes: Sequence[int],
                      saliency: Optional[np.ndarray] = None,
                      tau: float = 0.1,
                      mode: str = 'saliency',
                      ignore_unassigned: bool = True,
                      ignore_index: int = 255) -> np.ndarray:
    """Build a pseudo label map from the CAMs of the labelled classes.

    ``saliency`` mode: scores = [1 - S, A_c if A_c >= tau else 0, ...];
    ``no_saliency`` mode: scores = [tau, A_c, ...]. The label is the argmax,
    ties to the lower index (background wins ties, then the lower class id).
    In ``saliency`` mode with ``ignore_unassigned``, salient pixels that end as
    background get ``ignore_index``.

    Only the labelled classes take part: the classes of an image-level label
    that is absent would score 0 and can never win over the background, so
    leaving them out gives the same labels as the full C+1 argmax.

    Args:
        cams (np.ndarray): K×H×W CAMs of the labelled classes: float in [0, 1],
            or uint8 meaning value / 255 (as the stores hold them).
        classes (Sequence[int]): K 0-based class ids, one per CAM (any order).
        saliency (np.ndarray, optional): H×W bool binarised saliency. Required
            in ``saliency`` mode, unused in ``no_saliency`` mode.
        tau (float): activation threshold τ.
        mode (str): ``'saliency'`` or ``'no_saliency'``.
        ignore_unassigned (bool): mark salient-but-background pixels as
            ``ignore_index`` (``saliency`` mode only).
        ignore_index (int): the ignore label.

    Returns:
        np.ndarray: H×W uint8 label map: 0 background, c + 1 class c,
        ``ignore_index`` ignored.
    """
    if mode not in MODES:
        raise ValueError(f'mode must be one of {MODES}, got {mode!r}')
    cams = np.asarray(cams)
    if cams.ndim != 3:
        raise ValueError(f'cams must be K×H×W, got shape {cams.shape}')
    classes = np.asarray(classes, dtype=np.int64).reshape(-1)
    if len(classes) != cams.shape[0]:
        raise ValueError(f'{cams.shape[0]} CAMs for {len(classes)} classes')
    if len(np.unique(classes)) != len(classes):
        raise ValueError(f'repeated class ids in {classes.tolist()}')
    h, w = cams.shape[1:]
    sal = None
    if mode == 'saliency':
        if saliency is None:
            raise ValueError("mode 'saliency' needs a saliency map")
        sal = np.asarray(saliency, dtype=bool)
        if sal.shape != (h, w):
            raise ValueError(f'saliency {sal.shape} and CAMs {(h, w)} differ in size')

    # The argmax over [bg, A_1..A_K] reduces to the best class against a bound:
    # saliency mode: bg = 1 - S, so a non-salient pixel (bg = 1 >= any CAM) is
    #   always background, and a salient one (bg = 0) takes the best class iff its
    #   CAM is >= tau and > 0 (ties with bg = 0 go to bg);
    # no_saliency mode: bg = tau, the best class wins iff its CAM is > tau.
    # Classes are sorted by id, so ties between classes go to the lower id.
    order = np.argsort(classes, kind='stable')
    classes = classes[order]  # cams are read as cams[order[k]]: no reordered copy
    if cams.dtype == np.uint8:  # v / 255: compare in the uint8 domain, no float copy
        lo = int(np.searchsorted(UINT8_TO_UNIT, np.float32(tau), side='left'))  # >= tau
        hi = int(np.searchsorted(UINT8_TO_UNIT, np.float32(tau), side='right'))  # > tau
        thr = max(lo, 1) if mode == 'saliency' else hi
    else:
        cams = cams.astype(np.float32, copy=False)
        tau32 = np.float32(tau)
        thr = tau32 if mode == 'saliency' else np.nextafter(tau32, np.float32(2))
    # Best class and its score, one H×W pass per class (faster than an argmax
    # over the class axis); strict '>' keeps the first maximum. Everything is
    # whole-array uint8 arithmetic on 0/1 masks: boolean-mask indexing
    # (label[mask] = v) and np.where cost 10–50× more per pixel.
    labels = (classes + 1).astype(np.uint8)
    salient = sal.view(np.uint8) if sal is not None else None
    if len(classes) == 0:
        label = np.zeros((h, w), np.uint8)
        if mode == 'saliency' and ignore_unassigned:
            np.multiply(salient, np.uint8(ignore_index), out=label)
        return label
    top = cams[order[0]]
    label = None  # the best class's label; None while it is labels[0] everywhere
    for k in range(1, len(classes)):
        cam = cams[order[k]]
        better = (cam > top).view(np.uint8)
        # label = better ? labels[k] : label, as label ^ ((label ^ labels[k]) * better)
        if label is None:
            label = np.multiply(better, labels[0] ^ labels[k])
            np.bitwise_xor(label, labels[0], out=label)
        else:
            diff = np.bitwise_xor(label, labels[k])
            np.multiply(diff, better, out=diff)
            np.bitwise_xor(label, diff, out=label)
        top = np.maximum(top, cam)
    assigned = top >= thr
    if mode == 'saliency':
        if cams.dtype != np.uint8:
            assigned &= top > 0
        assigned &= sal
    if label is None:
        label = np.multiply(assigned.view(np.uint8), labels[0])
    else:
        np.multiply(label, assigned.view(np.uint8), out=label)
    if mode == 'saliency' and ignore_unassigned:
        # salient and not assigned: assigned ⊂ salient, so that is salient XOR assigned
        unassigned = np.bitwise_xor(salient, assigned.view(np.uint8))
        np.multiply(unassigned, np.uint8(ignore_index), out=unassigned)
        np.add(label, unassigned, out=label)  # disjoint supports: no overflow
    return label


def check_ignore_index(value) -> None:
    """An ignore label fits the uint8 label maps, above the background (0).

    Raises:
        ValueError: naming ``ignore_index`` and the allowed values.
    """
    check_arg('ignore_index', isinstance(value, (int, np.integer)) and
              not isinstance(value, (bool, np.bool_)) and 0 < value <= 255,
              'an integer in 1..255 (uint8 labels)', value)


@dataclass(frozen=True)
class PseudoLabelRule:
    """The settings of :func:`make_pseudo_label`, checked once, applied many times.

    A τ sweep varies one field: ``dataclasses.replace(rule, tau=t)``.

    Args:
        tau (float): activation threshold τ, finite, in [0, 1].
        mode (str): ``'saliency'`` or ``'no_saliency'``.
        sal_threshold (float): salient <=> value / 255 > sal_threshold;
            finite, in [0, 1].
        ignore_unassigned (bool): salient pixels left as background get
            ``ignore_index`` (``saliency`` mode).
        ignore_index (int): the ignore label, in 1..255 (uint8 labels).
    """
    tau: float = 0.1
    mode: str = 'saliency'
    sal_threshold: float = 0.2
    ignore_unassigned: bool = True
    ignore_index: int = 255

    def __post_init__(self):
        for name in ('tau', 'sal_threshold'):
            v = getattr(self, name)
            check_arg(name, not isinstance(v, bool) and
                      isinstance(v, (int, float, np.floating, np.integer)) and math.isfinite(v)
                      and 0 <= v <= 1, 'a finite number in [0, 1]', v)
        check_arg('mode', self.mode in MODES, f'one of {MODES}', self.mode, MODES)
        check_arg('ignore_unassigned', isinstance(self.ignore_unassigned, (bool, np.bool_)),
                  'True or False', self.ignore_unassigned)
        check_ignore_index(self.ignore_index)

    @property
    def needs_saliency(self) -> bool:
        return self.mode == 'saliency'

    @property
    def max_class(self) -> int:
        """The largest class id a uint8 label map can hold: labels are c + 1,
        below ``ignore_index``."""
        return self.ignore_index - 2

    def __call__(self,
                 cams: np.ndarray,
                 classes: Sequence[int],
                 saliency: Optional[np.ndarray] = None) -> np.ndarray:
        """The H×W uint8 pseudo label (:func:`make_pseudo_label`).

        Args:
            cams (np.ndarray): K×H×W CAMs, float in [0, 1] or uint8 (v / 255).
            classes (Sequence[int]): K 0-based class ids.
            saliency (np.ndarray, optional): H×W saliency, uint8 (binarised
                here with ``sal_threshold``) or bool (already binarised);
                needed in ``saliency`` mode only.
        """
        if saliency is not None and self.needs_saliency and saliency.dtype != bool:
            saliency = binarize_saliency(saliency, self.sal_threshold)
        return make_pseudo_label(cams, classes, saliency if self.needs_saliency else None,
                                 self.tau, self.mode, self.ignore_unassigned, self.ignore_index)
