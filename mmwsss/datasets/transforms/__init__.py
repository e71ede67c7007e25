from .cls_transforms import LoadSaliencyMap, PackClsSaliencyInputs
from .pseudo_label import SaliencyPseudoLabel

__all__ = ['SaliencyPseudoLabel', 'LoadSaliencyMap', 'PackClsSaliencyInputs']
