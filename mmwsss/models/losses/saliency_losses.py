"""Saliency losses of EPS (CVPR'21) and EPS++ (IRD), as plain functions.

Shapes: ``logits`` B×(C+1)×h×w with the background as the LAST channel (as in
EPS); ``saliency`` B×1×H×W in [0, 1]; ``labels`` B×C multi-hot.
"""
from typing import Sequence

import torch
import torch.nn.functional as F

from ..pamr import PAMR


def _check(logits: torch.Tensor, saliency: torch.Tensor, labels: torch.Tensor):
    if logits.dim() != 4:
        raise ValueError(f'logits must be B×(C+1)×h×w, got {tuple(logits.shape)}')
    b, c1 = logits.shape[:2]
    if saliency.dim() != 4 or saliency.shape[:2] != (b, 1):
        raise ValueError(f'saliency must be B×1×H×W with B={b}, got {tuple(saliency.shape)}')
    if labels.shape != (b, c1 - 1):
        raise ValueError(f'labels must be B×C = {(b, c1 - 1)} (logits have C+1 = {c1} '
                         f'channels, background last), got {tuple(labels.shape)}')


def _resize_saliency(saliency: torch.Tensor, size) -> torch.Tensor:
    # EPS resizes the saliency map with F.interpolate's default (nearest).
    return F.interpolate(saliency.float(), size=size, mode='nearest')


def eps_saliency_loss(logits: torch.Tensor,
                      saliency: torch.Tensor,
                      labels: torch.Tensor,
                      tau: float = 0.4,
                      lam: float = 0.5) -> torch.Tensor:
    """EPS saliency loss (Lee et al., CVPR'21).

    Per labelled class c the overlap ratio with the saliency map,
    ``sum(round(p_c)·round(s)) / sum(round(p_c) + 1e-4)`` on detached
    probabilities, decides: ratio > ``tau`` → foreground, else the class joins
    the background (with the background channel). The estimated saliency
    ``lam·sum_fg p + (1 - lam)·(1 - sum_bg p)`` is regressed (MSE) onto ``s``.

    Args:
        logits (Tensor): B×(C+1)×h×w, background last.
        saliency (Tensor): B×1×H×W in [0, 1], resized to h×w (nearest).
        labels (Tensor): B×C multi-hot image-level labels.
        tau (float): overlap threshold.
        lam (float): blend of the foreground and background maps.

    Returns:
        Tensor: scalar loss.
    """
    _check(logits, saliency, labels)
    b, c1, h, w = logits.shape
    sal = _resize_saliency(saliency, (h, w)).to(logits.dtype)
    prob = logits.softmax(dim=1)
    y = labels.to(torch.bool).view(b, c1 - 1, 1, 1)
    with torch.no_grad():
        fg_bin = prob[:, :-1].round()
        overlap = (fg_bin * sal.round()).flatten(2).sum(-1) / (fg_bin + 1e-4).flatten(2).sum(-1)
        valid = (overlap > tau).view(b, c1 - 1, 1, 1)
    fg_sel = (y & valid).to(prob.dtype)
    bg_sel = (y & ~valid).to(prob.dtype)
    fg_map = (prob[:, :-1] * fg_sel).sum(1, keepdim=True)
    bg_map = (prob[:, :-1] * bg_sel).sum(1, keepdim=True) + prob[:, -1:]
    pred = lam * fg_map + (1 - lam) * (1 - bg_map)
    return F.mse_loss(pred, sal)


def ird_saliency_loss(logits: torch.Tensor,
                      saliency: torch.Tensor,
                      labels: torch.Tensor,
                      image: torch.Tensor,
                      num_iter: int = 10,
                      dilations: Sequence[int] = (1, 2, 4, 8, 12, 24)) -> torch.Tensor:
    """EPS++ saliency loss with inconsistent region drop (IRD).

    ``M_fg = sum_c y_c·p_c``; ``M_r = sum_c y_c·PAMR(image, p)_c`` on detached
    ``p`` with the image resized to h×w (bilinear, ``align_corners=True``);
    ``N = [M_r > 0.5] XOR [M_s > 0.5]``;
    ``loss = sum (1 - N)(M_s - M_fg)^2 / sum (1 - N)``, 0 when every pixel is
    inconsistent.

    Args:
        logits (Tensor): B×(C+1)×h×w, background last.
        saliency (Tensor): B×1×H×W in [0, 1], resized to h×w (nearest).
        labels (Tensor): B×C multi-hot image-level labels.
        image (Tensor): B×3×H'×W' image in [0, 1].
        num_iter (int): PAMR rounds.
        dilations (Sequence[int]): PAMR dilations.

    Returns:
        Tensor: scalar loss.
    """
    _check(logits, saliency, labels)
    b, c1, h, w = logits.shape
    if image.dim() != 4 or image.shape[0] != b:
        raise ValueError(f'image must be B×3×H×W with B={b}, got {tuple(image.shape)}')
    sal = _resize_saliency(saliency, (h, w)).to(logits.dtype)
    prob = logits.softmax(dim=1)
    y = labels.to(prob.dtype).view(b, c1 - 1, 1, 1)
    m_fg = (prob[:, :-1] * y).sum(1, keepdim=True)
    with torch.no_grad():
        img = F.interpolate(image.to(prob.dtype), size=(h, w), mode='bilinear',
                            align_corners=True)
        # PAMR is linear in the mask, so refining M_fg equals summing the
        # refined class maps, at 1/(C+1) of the cost.
        m_r = PAMR(num_iter, dilations)(img, m_fg.detach())
        keep = ((m_r > 0.5) == (sal > 0.5)).to(prob.dtype)  # 1 - (B(M_r) XOR B(M_s))
    sq = keep * (sal - m_fg).square()
    # clamp: 0 / 1 = 0 when every pixel is inconsistent (and the graph stays intact).
    return sq.sum() / keep.sum().clamp(min=1)
