from .crf_tta import DenseCRFSegTTAModel

__all__ = ['DenseCRFSegTTAModel']
