"""Shared argument checks of the saliency losses.

Shapes: ``logits`` B×(C+1)×h×w with the background as the LAST channel (as in
EPS); ``saliency`` B×1×H×W in [0, 1]; ``labels`` B×C multi-hot.

Every tensor a loss makes takes its device from the logits and its dtype from
:func:`loss_dtype`, so that the losses run on any device, in float64 (gradient
checks) and under autocast.
"""
import torch
import torch.nn.functional as F


def check_saliency_inputs(logits: torch.Tensor, saliency: torch.Tensor, labels: torch.Tensor):
    if logits.dim() != 4:
        raise ValueError(f'logits must be B×(C+1)×h×w, got {tuple(logits.shape)}')
    b, c1 = logits.shape[:2]
    if saliency.dim() != 4 or saliency.shape[:2] != (b, 1):
        raise ValueError(f'saliency must be B×1×H×W with B={b}, got {tuple(saliency.shape)}')
    if labels.shape != (b, c1 - 1):
        raise ValueError(f'labels must be B×C = {(b, c1 - 1)} (logits have C+1 = {c1} '
                         f'channels, background last), got {tuple(labels.shape)}')


def loss_dtype(logits: torch.Tensor) -> torch.dtype:
    """The dtype a loss computes in: the logits' own, but at least float32.

    Half-precision logits (autocast's bf16 / fp16) are widened: a softmax and
    sums over every pixel lose too much in 8 or 11 bits of mantissa, and
    fp16 underflows small constants (1e-8 is 0). float64 stays float64.
    """
    return torch.promote_types(logits.dtype, torch.float32)


def resize_saliency(saliency: torch.Tensor, size, dtype: torch.dtype) -> torch.Tensor:
    """B×1×H×W → B×1×h×w in ``dtype``."""
    # EPS resizes the saliency map with F.interpolate's default (nearest).
    return F.interpolate(saliency.to(dtype), size=size, mode='nearest')
