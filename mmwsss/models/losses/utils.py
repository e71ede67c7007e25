"""Shared argument checks of the saliency losses.

Shapes: ``logits`` B×(C+1)×h×w with the background as the LAST channel (as in
EPS); ``saliency`` B×1×H×W in [0, 1]; ``labels`` B×C multi-hot.
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


def resize_saliency(saliency: torch.Tensor, size) -> torch.Tensor:
    # EPS resizes the saliency map with F.interpolate's default (nearest).
    return F.interpolate(saliency.float(), size=size, mode='nearest')
