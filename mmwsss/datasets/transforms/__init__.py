from .cls_transforms import LoadSaliencyMap, PackClsSaliencyInputs
from .gt_subset import LoadGTSubsetMask
from .pseudo_label import SaliencyPseudoLabel

__all__ = ['SaliencyPseudoLabel', 'LoadGTSubsetMask', 'LoadSaliencyMap', 'PackClsSaliencyInputs']
