"""Scoring pseudo labels: confusion matrices, scores and the τ sweep (plain numpy)."""
from .metrics import label_confusion, scores_from_confusion
from .tau_sweep import TauSweep, pseudo_label_confusion

__all__ = ['label_confusion', 'scores_from_confusion', 'TauSweep', 'pseudo_label_confusion']
