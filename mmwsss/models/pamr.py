"""Pixel-adaptive mask refinement (PAMR, Araslanov & Roth, CVPR'20).

Exactly the reference definition of Araslanov & Roth: a fixed affinity from the
image over the 8 neighbours at each dilation (replicate padding, the centre is
not a neighbour), normalised by the local standard deviation and soft-maxed;
then ``num_iter`` rounds of ``m_i <- sum_j w_ij m_j``.

The reference builds a B×C×(8·D)×H×W tensor of shifted masks per round. Here
the propagation accumulates one neighbour at a time from a single padded copy
of the mask, so memory does not grow with the number of neighbours.
"""
from typing import List, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

# The 8 neighbours of a 3×3 window (dy, dx); the centre is not one of them.
_NEIGHBOURS = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if (dy, dx) != (0, 0)]


def _offsets(dilations: Sequence[int]) -> List[Tuple[int, int]]:
    return [(dy * d, dx * d) for d in dilations for dy, dx in _NEIGHBOURS]


def _shifted(padded: torch.Tensor, pad: int, dy: int, dx: int, h: int, w: int) -> torch.Tensor:
    """View of ``x[..., i + dy, j + dx]`` (replicate border) from ``x`` padded by ``pad``."""
    return padded[..., pad + dy:pad + dy + h, pad + dx:pad + dx + w]


@torch.no_grad()
def pamr_affinity(image: torch.Tensor, dilations: Sequence[int]) -> torch.Tensor:
    """The PAMR affinity of an image: softmax weights over its neighbours.

    Args:
        image (Tensor): B×K×H×W image (any intensity scale).
        dilations (Sequence[int]): neighbourhood dilations.

    Returns:
        Tensor: B×P×H×W weights, P = 8·len(dilations), summing to 1 over P,
        in the image's dtype widened to at least float32.
    """
    # In float16 the 1e-8 below is 0 and a flat patch divides 0 by 0 (NaN).
    image = image.to(torch.promote_types(image.dtype, torch.float32))
    b, k, h, w = image.shape
    pad = max(dilations)
    # Replicate padding by the largest dilation serves every dilation: a
    # replicated border is index clamping, whatever the pad width.
    xp = F.pad(image, [pad] * 4, mode='replicate')
    # σ: unbiased std over the 3×3 windows (centre included) of all dilations,
    # the centre counted once per dilation as in the reference.
    n = 9 * len(dilations)
    mean = image * len(dilations)
    for dy, dx in _offsets(dilations):
        mean = mean + _shifted(xp, pad, dy, dx, h, w)
    mean = mean / n
    var = (image - mean).square() * len(dilations)
    for dy, dx in _offsets(dilations):
        var = var + (_shifted(xp, pad, dy, dx, h, w) - mean).square()
    std = (var / (n - 1)).sqrt()
    denom = 1e-8 + 0.1 * std
    aff = torch.stack([
        (-(image - _shifted(xp, pad, dy, dx, h, w)).abs() / denom).mean(1)
        for dy, dx in _offsets(dilations)
    ], dim=1)
    return aff.softmax(dim=1)


def pamr_propagate(mask: torch.Tensor, weights: torch.Tensor, dilations: Sequence[int],
                   num_iter: int) -> torch.Tensor:
    """``num_iter`` rounds of ``m_i <- sum_j w_ij m_j``.

    Args:
        mask (Tensor): B×C×H×W.
        weights (Tensor): B×P×H×W from :func:`pamr_affinity`.

    Returns:
        Tensor: B×C×H×W (differentiable w.r.t. ``mask``).
    """
    h, w = mask.shape[-2:]
    pad = max(dilations)
    offsets = _offsets(dilations)
    wts = weights.unsqueeze(2)  # B×P×1×H×W, broadcast over the C channels
    for _ in range(num_iter):
        mp = F.pad(mask, [pad] * 4, mode='replicate')
        out = torch.zeros_like(mask)
        for p, (dy, dx) in enumerate(offsets):
            out.addcmul_(wts[:, p], _shifted(mp, pad, dy, dx, h, w))
        mask = out
    return mask


_COMPILED = {}


def compiled_propagate():
    """:func:`pamr_propagate` through ``torch.compile``, built once per process.

    On a GPU the eager propagation is launch-bound: 49 kernels a round (a pad
    and 48 ``addcmul_``), about 500 for 10 rounds; compiled, the 48 neighbours of
    a round fuse into one kernel (19 in all). Measured on an H200 (B 8, C 21,
    112×112, float32): 10.2 ms eager, 1.85 ms compiled, after a first call
    that compiles for about 90 s (once per shape). One grouped convolution per
    dilation (the reference's way) launches 299 kernels and took 16.0 ms.
    """
    if 'propagate' not in _COMPILED:
        _COMPILED['propagate'] = torch.compile(pamr_propagate, dynamic=False)
    return _COMPILED['propagate']


class PAMR(nn.Module):
    """Pixel-adaptive mask refinement.

    Args:
        num_iter (int): propagation rounds. Default 10.
        dilations (Sequence[int]): neighbourhood dilations.
            Default ``[1, 2, 4, 8, 12, 24]``.
        compile (bool): on CUDA, propagate through ``torch.compile``
            (:func:`compiled_propagate`: about 5× faster on an H200 after a
            first call that compiles for about 90 s). CPU masks always take the
            eager path: compiling there took minutes and is not faster to
            run than the eager loop on few cores. Default False.
    """

    def __init__(self, num_iter: int = 10, dilations: Sequence[int] = (1, 2, 4, 8, 12, 24),
                 compile: bool = False):
        super().__init__()
        if num_iter < 0:
            raise ValueError(f'num_iter must be >= 0, got {num_iter}')
        if not dilations or min(dilations) < 1:
            raise ValueError(f'dilations must be positive integers, got {dilations}')
        self.num_iter = int(num_iter)
        self.dilations = [int(d) for d in dilations]
        self.compile = bool(compile)

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Refine ``mask`` along the edges of ``image``.

        Args:
            image (Tensor): B×3×H×W image.
            mask (Tensor): B×C×h×w masks; resized to H×W (bilinear,
                ``align_corners=True``) first.

        Returns:
            Tensor: B×C×H×W refined masks in the mask's dtype. No gradient
            flows through the affinities (the image); it flows through the
            mask.
        """
        if image.dim() != 4 or mask.dim() != 4 or image.shape[0] != mask.shape[0]:
            raise ValueError(f'PAMR needs image B×3×H×W and mask B×C×h×w, got '
                             f'{tuple(image.shape)} and {tuple(mask.shape)}')
        # in at least float32, as pamr_affinity; a half-precision mask gets its dtype back
        dtype = torch.promote_types(mask.dtype, torch.float32)
        m = F.interpolate(mask.to(dtype), size=image.shape[-2:], mode='bilinear',
                          align_corners=True)
        weights = pamr_affinity(image.detach().to(dtype), self.dilations)
        propagate = compiled_propagate() if self.compile and mask.is_cuda else pamr_propagate
        return propagate(m, weights, self.dilations, self.num_iter).to(mask.dtype)

    def extra_repr(self) -> str:
        return f'num_iter={self.num_iter}, dilations={self.dilations}, compile={self.compile}'
