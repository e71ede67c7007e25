from .saliency_losses import eps_saliency_loss, ird_saliency_loss

__all__ = ['eps_saliency_loss', 'ird_saliency_loss']
