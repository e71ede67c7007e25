from .crf_tta import DenseCRFSegTTAModel
from .multi_scale_input import MultiScaleInputEncoderDecoder, max_fuse, resize_labels

__all__ = ['DenseCRFSegTTAModel', 'MultiScaleInputEncoderDecoder', 'max_fuse', 'resize_labels']
