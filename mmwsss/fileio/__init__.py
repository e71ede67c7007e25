"""File I/O: CAM stores, saliency and label PNGs, image-level label lists.

Readers go through ``mmengine.fileio`` with ``backend_args`` (local files keep
a direct path) and raise :class:`mmwsss.errors.WSSSInputError` naming the
image and the file.
"""
from .cam_store import CAM_FORMATS, CAMStore, cam_path, cams_to_unit, save_cams_bed_png, \
    save_cams_npz
from .labels import (cls_labels_from_label_map, draw_subset, format_cls_label_line,
                     parse_cls_label_file, read_id_list)
from .atomic import atomic_write, torch_save_atomic
from .png import (image_hw, read_gray_png, read_image, read_label_png, read_saliency,
                  save_label_png)

__all__ = [
    'CAM_FORMATS', 'CAMStore', 'cam_path', 'cams_to_unit', 'save_cams_bed_png',
    'save_cams_npz', 'cls_labels_from_label_map', 'draw_subset', 'format_cls_label_line',
    'parse_cls_label_file', 'read_id_list', 'atomic_write', 'image_hw', 'read_gray_png',
    'read_image', 'read_label_png', 'read_saliency', 'save_label_png', 'torch_save_atomic'
]
