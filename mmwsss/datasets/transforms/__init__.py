from .cls_transforms import LoadGTSubsetMask, LoadSaliencyMap, PackClsSaliencyInputs
from .pseudo_label import SaliencyPseudoLabel

__all__ = ['SaliencyPseudoLabel', 'LoadGTSubsetMask', 'LoadSaliencyMap', 'PackClsSaliencyInputs']
