"""Scoring pseudo labels: confusion matrices, scores and the τ sweep (plain
numpy), and ``CAMStoreWriter``, the test-time metric behind ``tools/make_cams.py``."""
from .cam_store_writer import CAMStoreWriter
from .held_out import (PerImageConfusion, held_out_tau, ids_digest, select_tau,
                       split_for_tuning)
from .metrics import label_confusion, scores_from_confusion
from .tau_grid import TauChoice, choose_tau
from .tau_sweep import TauSweep, dataset_items, pseudo_label_confusion

__all__ = [
    'CAMStoreWriter', 'dataset_items', 'label_confusion', 'scores_from_confusion', 'TauSweep',
    'pseudo_label_confusion', 'TauChoice', 'choose_tau', 'select_tau', 'split_for_tuning',
    'held_out_tau', 'PerImageConfusion', 'ids_digest'
]
