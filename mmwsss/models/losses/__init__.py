from .eps_saliency_loss import EPSSaliencyLoss, eps_saliency_loss
from .ird_saliency_loss import (IRDRule, IRDSaliencyLoss, bounded_drop, ird_drop_mask,
                                ird_saliency_loss, refine_foreground)

__all__ = [
    'eps_saliency_loss', 'EPSSaliencyLoss', 'ird_saliency_loss', 'IRDSaliencyLoss',
    'IRDRule', 'refine_foreground', 'bounded_drop', 'ird_drop_mask'
]
