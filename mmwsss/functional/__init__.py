"""Numeric cores: plain numpy functions, no registry code, no file I/O.

Names that used to live here and moved (file readers to :mod:`mmwsss.fileio`,
metrics to :mod:`mmwsss.evaluation`) still import from here, with a warning
that gives their new home.
"""
import importlib
import warnings

from .palette import voc_colormap
from .pseudo_label import MODES, UINT8_TO_UNIT, PseudoLabelRule, binarize_saliency, \
    make_pseudo_label

__all__ = [
    'MODES', 'UINT8_TO_UNIT', 'PseudoLabelRule', 'binarize_saliency', 'make_pseudo_label',
    'voc_colormap'
]

_MOVED = {
    'WSSSInputError': 'mmwsss.errors',
    'CAM_FORMATS': 'mmwsss.fileio',
    'cam_path': 'mmwsss.fileio',
    'cams_to_unit': 'mmwsss.fileio',
    'save_cams_bed_png': 'mmwsss.fileio',
    'save_cams_npz': 'mmwsss.fileio',
    'atomic_write': 'mmwsss.fileio',
    'read_gray_png': 'mmwsss.fileio',
    'read_label_png': 'mmwsss.fileio',
    'save_label_png': 'mmwsss.fileio',
    'cls_labels_from_label_map': 'mmwsss.fileio',
    'format_cls_label_line': 'mmwsss.fileio',
    'parse_cls_label_file': 'mmwsss.fileio',
}
_REPLACED = {
    'load_cams': 'mmwsss.fileio.CAMStore(cam_dir, cam_format, allow_pickle).load(img_id, '
                 'classes)',
    'load_checked_cams': 'mmwsss.fileio.CAMStore(...).load(img_id, classes, hw, max_class)',
    'load_unit_cams': 'mmwsss.fileio.CAMStore(...).load(...) (uint8 CAMs: '
                      'mmwsss.fileio.cams_to_unit)',
    'load_saliency': 'mmwsss.fileio.read_saliency(path, img_id, hw) and '
                     'PseudoLabelRule.sal_threshold',
    'pseudo_label_for_image': 'the SaliencyPseudoLabel transform, or CAMStore.load + '
                              'read_saliency + PseudoLabelRule(...)(cams, classes, saliency)',
}


def __getattr__(name):
    if name in _MOVED:
        warnings.warn(f'mmwsss.functional.{name} moved to {_MOVED[name]}.{name}',
                      DeprecationWarning, stacklevel=2)
        return getattr(importlib.import_module(_MOVED[name]), name)
    if name in _REPLACED:
        raise ImportError(f'mmwsss.functional.{name} was removed; use {_REPLACED[name]}')
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
