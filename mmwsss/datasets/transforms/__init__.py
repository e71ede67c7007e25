from .pseudo_label import SaliencyPseudoLabel

__all__ = ['SaliencyPseudoLabel']
from .cls_transforms import LoadSaliencyMap, PackClsSaliencyInputs  # noqa: F401,E402  (issue-3 helper; lead to merge)
