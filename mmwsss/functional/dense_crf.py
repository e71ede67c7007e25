"""Fully-connected CRF (Krähenbühl & Koltun, NIPS 2011) through ``pydensecrf2``.

Two published settings by name:

- ``'deeplab'``: DeepLab's test-time CRF, also WSSS-BED's and EPS's: 10 mean-field
  iterations, Gaussian kernel sxy 1 / compat 3, bilateral kernel sxy 67, srgb 3,
  compat 4.
- ``'psa'``: PSA / IRN's refinement of CAM-based labels: Gaussian 3 / 3, bilateral
  sxy 80, srgb 13, compat 10, 10 iterations; with CAMs the background score is
  ``(1 - max fg) ** alpha`` (:func:`cam_probs`).
"""
from typing import Sequence

import numpy as np

CRF_PRESETS = {
    'deeplab': dict(iterations=10, gauss_sxy=1, gauss_compat=3, bi_sxy=67, bi_srgb=3,
                    bi_compat=4),
    'psa': dict(iterations=10, gauss_sxy=3, gauss_compat=3, bi_sxy=80, bi_srgb=13,
                bi_compat=10),
}


PROB_SUM_TOL = 1e-3  # softmax outputs sum to 1 within float32 (and float16) rounding
_POSITIVE = ('gauss_sxy', 'bi_sxy', 'bi_srgb')  # kernel widths: 0 divides (pydensecrf2 crashes)


def check_crf_params(params: dict) -> None:
    """Refuse CRF settings that pydensecrf2 would crash on or silently misread:
    kernel widths (``gauss_sxy``, ``bi_sxy``, ``bi_srgb``) must be finite and
    > 0, compatibilities finite, ``iterations`` a whole number >= 0."""
    for name, v in params.items():
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) \
                or not np.isfinite(v):
            raise ValueError(f'CRF parameter {name} must be a finite number, got {v!r}')
    bad = [f'{k}={params[k]!r}' for k in _POSITIVE if params[k] <= 0]
    if bad:
        raise ValueError(f'CRF kernel widths must be > 0, got {", ".join(bad)}')
    it = params['iterations']
    if it < 0 or int(it) != it:
        raise ValueError(f'CRF iterations must be a whole number >= 0, got {it!r}')


def check_probs(probs: np.ndarray, hw=None) -> None:
    """Refuse what is not a C×H×W map of class probabilities: no class, another
    H×W than the image's, NaN or infinite values, values outside [0, 1] (logits)
    or pixels whose classes do not sum to 1 within :data:`PROB_SUM_TOL`. Three
    vectorised passes (min, max, sum over classes)."""
    if probs.ndim != 3 or probs.shape[0] == 0:
        raise ValueError(f'probs must be C×H×W with C >= 1 classes, got shape {probs.shape}')
    if hw is not None and probs.shape[1:] != tuple(hw):
        raise ValueError(f'probs are {probs.shape[1]}×{probs.shape[2]} (H×W) but the image is '
                         f'{hw[0]}×{hw[1]}')
    if not probs.size:
        return
    lo, hi = float(probs.min()), float(probs.max())
    if not (np.isfinite(lo) and np.isfinite(hi)):  # min/max propagate NaN and inf
        n = int((~np.isfinite(probs)).any(0).sum())
        raise ValueError(f'probs hold NaN or infinite values at {n} pixel(s)')
    if lo < 0 or hi > 1:
        raise ValueError(f'probs must lie in [0, 1], found [{lo!r}, {hi!r}]: pass '
                         'probabilities (e.g. a softmax over classes), not logits')
    err = np.abs(probs.sum(0, dtype=np.float64) - 1)
    worst = float(err.max())
    if worst > PROB_SUM_TOL:
        n = int((err > PROB_SUM_TOL).sum())
        raise ValueError(f'probs must sum to 1 over the classes (within {PROB_SUM_TOL}); '
                         f'{n} pixel(s) do not (worst off by {worst:.4g})')


def _densecrf():
    try:
        import pydensecrf.densecrf as dcrf
        from pydensecrf.utils import unary_from_softmax
    except ImportError as e:
        raise ImportError('DenseCRF needs the optional extra pydensecrf2: '
                          "pip install -e '.[crf]' (or pip install pydensecrf2)") from e
    return dcrf, unary_from_softmax


def dense_crf(image: np.ndarray, probs: np.ndarray, preset: str = 'deeplab',
              **overrides) -> np.ndarray:
    """Refine class probabilities with a fully-connected CRF.

    Args:
        image (np.ndarray): H×W×3 uint8 RGB image.
        probs (np.ndarray): C×H×W class probabilities, C >= 1: finite, in
            [0, 1], each pixel summing to 1 within :data:`PROB_SUM_TOL`.
        preset (str): ``'deeplab'`` or ``'psa'`` (see :data:`CRF_PRESETS`).
        **overrides: any preset value (``iterations``, ``gauss_sxy``,
            ``gauss_compat``, ``bi_sxy``, ``bi_srgb``, ``bi_compat``); kernel
            widths > 0.

    Returns:
        np.ndarray: C×H×W float32 refined probabilities.

    Raises:
        ValueError: an unknown preset or parameter, a kernel width <= 0, an
        image that is not H×W×3 uint8, or probabilities that are not
        (:func:`check_probs`): pydensecrf2 would crash on the first and turn
        the last into a wrong label in silence (100 NaN pixels made a whole
        image background).
    """
    if preset not in CRF_PRESETS:
        raise ValueError(f'unknown CRF preset {preset!r}; one of {sorted(CRF_PRESETS)}')
    params = dict(CRF_PRESETS[preset])
    unknown = set(overrides) - set(params)
    if unknown:
        raise ValueError(f'unknown CRF parameter(s) {sorted(unknown)}; one of {sorted(params)}')
    params.update(overrides)
    check_crf_params(params)
    image = np.asarray(image)
    probs = np.asarray(probs, dtype=np.float32)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f'image must be H×W×3 uint8 RGB, got {image.dtype} {image.shape}')
    check_probs(probs, image.shape[:2])
    dcrf, unary_from_softmax = _densecrf()
    c, h, w = probs.shape
    crf = dcrf.DenseCRF2D(w, h, c)
    crf.setUnaryEnergy(np.ascontiguousarray(unary_from_softmax(probs)))
    crf.addPairwiseGaussian(sxy=params['gauss_sxy'], compat=params['gauss_compat'])
    crf.addPairwiseBilateral(sxy=params['bi_sxy'], srgb=params['bi_srgb'],
                             rgbim=np.ascontiguousarray(image), compat=params['bi_compat'])
    q = crf.inference(int(params['iterations']))
    return np.asarray(q, dtype=np.float32).reshape(c, h, w)


def cam_probs(cams: np.ndarray, tau: float = None, alpha: float = None) -> np.ndarray:
    """(K+1)×H×W probabilities (background first) from K×H×W CAMs in [0, 1].

    The background score is the constant ``tau`` (the WSSS-BED rule's
    threshold: the argmax equals the rule without saliency) or PSA's
    ``(1 - max fg) ** alpha``; the scores are normalised to sum to 1.
    """
    if (tau is None) == (alpha is None):
        raise ValueError('give exactly one of tau and alpha')
    cams = np.asarray(cams, dtype=np.float32)
    bg = np.full(cams.shape[1:], tau, np.float32) if tau is not None else \
        (1 - (cams.max(0) if len(cams) else np.zeros(cams.shape[1:], np.float32))) ** alpha
    scores = np.concatenate([bg[None], cams]) + 1e-5
    return scores / scores.sum(0, keepdims=True)


def crf_label(image: np.ndarray, cams: np.ndarray, classes: Sequence[int], tau: float,
              preset: str = 'psa') -> np.ndarray:
    """A CAM-only pseudo label refined by the CRF, as PSA / IRN make theirs: H×W
    uint8, 0 background, c + 1 class c (no ignore)."""
    refined = dense_crf(image, cam_probs(cams, tau=tau), preset)
    lut = np.asarray([0] + [int(c) + 1 for c in classes], dtype=np.uint8)
    return lut[refined.argmax(0)]
