"""Numeric cores: plain numpy/torch functions, no registry code."""
from .cam_store import (CAM_FORMATS, cam_path, cams_to_unit, load_cams, save_cams_bed_png,
                        save_cams_npz)
from .errors import WSSSInputError
from .fileio import atomic_write, read_gray_png, read_label_png, save_label_png
from .labels import cls_labels_from_label_map, format_cls_label_line, parse_cls_label_file
from .pseudo_label import MODES, UINT8_TO_UNIT, binarize_saliency, make_pseudo_label
from .sources import (load_checked_cams, load_saliency, load_unit_cams,
                      pseudo_label_for_image)

__all__ = [
    'CAM_FORMATS', 'cam_path', 'cams_to_unit', 'load_cams', 'save_cams_bed_png',
    'save_cams_npz', 'WSSSInputError', 'atomic_write', 'read_gray_png', 'read_label_png', 'save_label_png',
    'cls_labels_from_label_map', 'format_cls_label_line', 'parse_cls_label_file', 'MODES',
    'UINT8_TO_UNIT', 'binarize_saliency', 'make_pseudo_label', 'load_checked_cams', 'load_saliency',
    'load_unit_cams', 'pseudo_label_for_image'
]
