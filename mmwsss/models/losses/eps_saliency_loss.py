"""EPS saliency loss (Lee et al., CVPR'21): a plain function and its
registered module."""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmseg.registry import MODELS

from ..pamr import PAMR
from .ird_saliency_loss import IRDRule, ird_drop_mask
from .utils import check_saliency_inputs, loss_dtype, resize_saliency


def eps_saliency_loss(logits: torch.Tensor,
                      saliency: torch.Tensor,
                      labels: torch.Tensor,
                      tau: float = 0.4,
                      lam: float = 0.5,
                      image: Optional[torch.Tensor] = None,
                      drop: Optional[IRDRule] = None) -> torch.Tensor:
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
        image (Tensor, optional): B×3×H×W image in [0, 1]; needed with ``drop``.
        drop (IRDRule, optional): a control, not EPS: leave out of the MSE the
            pixels IRD's rule would drop (:func:`ird_drop_mask` on
            ``M_fg = sum_c y_c·p_c``, with default PAMR), the kept pixels
            counted over the batch as IRD does. None: EPS as published.

    Returns:
        Tensor: scalar loss, in the logits' dtype widened to at least float32.
    """
    return _eps_loss(logits, saliency, labels, image, (tau, lam),
                     None if drop is None else (drop, PAMR()))


def _eps_loss(logits, saliency, labels, image, tau_lam, drop):
    """``drop``: None or (IRDRule, PAMR)."""
    tau, lam = tau_lam
    check_saliency_inputs(logits, saliency, labels)
    b, c1, h, w = logits.shape
    logits = logits.to(loss_dtype(logits))
    sal = resize_saliency(saliency, (h, w), logits.dtype)
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
    if drop is None:
        return F.mse_loss(pred, sal)
    if image is None:
        raise ValueError('EPS with drop needs the image (PAMR refines M_fg along its edges)')
    rule, pamr = drop
    m_fg = (prob[:, :-1] * y.to(prob.dtype)).sum(1, keepdim=True)  # IRD's M_fg
    keep = (~ird_drop_mask(m_fg, sal, image, pamr, rule)).to(prob.dtype)
    return (keep * (pred - sal).square()).sum() / keep.sum().clamp(min=1)


@MODELS.register_module()
class EPSSaliencyLoss(nn.Module):
    """:func:`eps_saliency_loss` as a loss module.

    Args:
        tau (float): overlap threshold. Default 0.4 (EPS).
        lam (float): blend of the foreground and background maps. Default
            0.5 (EPS on VOC; 0.9 on COCO).
        drop (dict, optional): a control, not EPS: leave out the pixels
            IRD would drop, ``dict(max_drop=0.5, normalize=True,
            refine_scale=None)`` (keys of :class:`IRDRule`, IRD's defaults for
            those not given; PAMR with its defaults). Default None: EPS.
        loss_weight (float): weight of the loss.
        loss_name (str): the key the classifier logs it under.
    """

    def __init__(self,
                 tau: float = 0.4,
                 lam: float = 0.5,
                 drop: Optional[dict] = None,
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_sal'):
        super().__init__()
        self.tau = tau
        self.lam = lam
        self.drop_rule, self.pamr = None, None
        if drop is not None:
            unknown = set(drop) - {'max_drop', 'normalize', 'refine_scale'}
            if unknown:
                raise ValueError(f'drop: unknown keys {sorted(unknown)}; known: max_drop, '
                                 'normalize, refine_scale')
            self.drop_rule = IRDRule(**dict(drop, max_drop=float(drop.get('max_drop', 0.5))))
            self.pamr = PAMR()
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    def forward(self, logits: torch.Tensor, saliency: torch.Tensor, labels: torch.Tensor,
                image: Optional[torch.Tensor] = None) -> torch.Tensor:
        """``image`` is used only with ``drop`` (B×3×H×W in [0, 1])."""
        drop = None if self.drop_rule is None else (self.drop_rule, self.pamr)
        return self.loss_weight * _eps_loss(logits, saliency, labels, image,
                                            (self.tau, self.lam), drop)

    @property
    def loss_name(self) -> str:
        return self._loss_name
