"""COCO-14 label maps and image-level labels from instance annotations
(pycocotools), shared by the converter and ``COCOWSSSDataset``."""
from typing import Dict, List

import numpy as np

COCO_CLASSES = (
    'person', 'bicycle', 'car', 'motorcycle', 'airplane', 'bus', 'train', 'truck', 'boat',
    'traffic light', 'fire hydrant', 'stop sign', 'parking meter', 'bench', 'bird', 'cat',
    'dog', 'horse', 'sheep', 'cow', 'elephant', 'bear', 'zebra', 'giraffe', 'backpack',
    'umbrella', 'handbag', 'tie', 'suitcase', 'frisbee', 'skis', 'snowboard', 'sports ball',
    'kite', 'baseball bat', 'baseball glove', 'skateboard', 'surfboard', 'tennis racket',
    'bottle', 'wine glass', 'cup', 'fork', 'knife', 'spoon', 'bowl', 'banana', 'apple',
    'sandwich', 'orange', 'broccoli', 'carrot', 'hot dog', 'pizza', 'donut', 'cake', 'chair',
    'couch', 'potted plant', 'bed', 'dining table', 'toilet', 'tv', 'laptop', 'mouse',
    'remote', 'keyboard', 'cell phone', 'microwave', 'oven', 'toaster', 'sink',
    'refrigerator', 'book', 'clock', 'vase', 'scissors', 'teddy bear', 'hair drier',
    'toothbrush')


def coco_category_map(coco) -> Dict[int, int]:
    """COCO category id (1..90 with gaps) → 0-based contiguous class id,
    in increasing category id order (the order of ``COCO_CLASSES``)."""
    return {cat: i for i, cat in enumerate(sorted(coco.getCatIds()))}


def coco_cls_labels(coco, image_id: int, cat_map: Dict[int, int]) -> List[int]:
    """0-based classes of the non-crowd instances of an image."""
    anns = coco.loadAnns(coco.getAnnIds(imgIds=image_id, iscrowd=False))
    return sorted({cat_map[a['category_id']] for a in anns})


def coco_label_map(coco, image_id: int, cat_map: Dict[int, int],
                   ignore_index: int = 255) -> np.ndarray:
    """H×W uint8 label map of one image: 0 background, c + 1 class c.

    Instances are painted largest first so that small objects on top of large
    ones stay visible; crowd regions not covered by an instance are
    ``ignore_index``.
    """
    info = coco.loadImgs(image_id)[0]
    label = np.zeros((info['height'], info['width']), dtype=np.uint8)
    anns = coco.loadAnns(coco.getAnnIds(imgIds=image_id))
    crowd = [a for a in anns if a.get('iscrowd', 0)]
    for a in crowd:
        label[coco.annToMask(a) > 0] = ignore_index
    for a in sorted((a for a in anns if not a.get('iscrowd', 0)), key=lambda a: -a['area']):
        label[coco.annToMask(a) > 0] = cat_map[a['category_id']] + 1
    return label


def coco_image_stem(coco, image_id: int, ann_file: str) -> str:
    """The file stem of a COCO image, refused when its ``file_name`` is not a
    plain file name (a separator or ``..`` would put outputs outside their folder)."""
    import os.path as osp

    from mmwsss.errors import WSSSInputError
    name = str(coco.loadImgs(image_id)[0]['file_name'])
    if not name or '/' in name or '\\' in name or name in ('.', '..') or \
            name.startswith('..') or osp.isabs(name):
        raise WSSSInputError(f'image {image_id} has file_name {name!r}: a plain file name '
                             'is expected (no folder, no "..")', path=ann_file)
    return osp.splitext(name)[0]


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v) -> bool:
    import math
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def check_coco_annotations(coco, ann_file: str) -> None:
    """Check every field the label maps and image-level labels are made from,
    for type as well as range, before anything is made of them.

    Images: an integer ``id``, ``height`` and ``width`` positive integers.
    Annotations: an ``image_id`` of a listed image, a ``category_id`` of a
    listed category, ``iscrowd`` 0 or 1, a finite ``area`` >= 0, and a
    ``segmentation`` of polygons (lists of an even number, >= 6, of finite
    coordinates) or an RLE whose ``size`` is its image's ``[height, width]``.

    Raises:
        WSSSInputError: naming the file, the image or annotation id and the field.
    """
    from mmwsss.errors import WSSSInputError

    def bad(what, msg):
        raise WSSSInputError(f'{what}: {msg}', path=ann_file)

    cats = set(coco.getCatIds())
    if not all(_is_int(c) for c in cats):
        bad('categories', f'ids must be integers, got {sorted(map(repr, cats))[:5]}')
    for img_id, img in coco.imgs.items():
        if not _is_int(img_id):
            bad(f'image {img_id!r}', 'the id must be an integer')
        for key in ('height', 'width'):
            if not (_is_int(img.get(key)) and img[key] > 0):
                bad(f'image {img_id}', f'{key} must be a positive integer, got '
                    f'{img.get(key)!r}')
    for ann_id, ann in coco.anns.items():
        what = f'annotation {ann_id!r}'
        img = coco.imgs.get(ann.get('image_id'))
        if img is None:
            bad(what, f"image_id {ann.get('image_id')!r} is not a listed image")
        if not _is_int(ann.get('category_id')) or ann['category_id'] not in cats:
            bad(what, f"category_id {ann.get('category_id')!r} is not a listed category "
                '(integer id)')
        if ann.get('iscrowd', 0) not in (0, 1) or isinstance(ann.get('iscrowd'), float):
            bad(what, f"iscrowd must be 0 or 1, got {ann.get('iscrowd')!r}")
        if not (_is_number(ann.get('area')) and ann['area'] >= 0):
            bad(what, f"area must be a number >= 0, got {ann.get('area')!r}")
        seg = ann.get('segmentation')
        if isinstance(seg, dict):
            size = seg.get('size')
            if size != [img['height'], img['width']]:
                bad(what, f'an RLE of size {size!r} (H, W) on image {ann["image_id"]} of '
                    f'{img["height"]}×{img["width"]} (H×W)')
            if not isinstance(seg.get('counts'), (str, list)):
                bad(what, 'an RLE needs counts (a string or a list)')
        elif isinstance(seg, list):
            for poly in seg:
                if not (isinstance(poly, list) and len(poly) >= 6 and len(poly) % 2 == 0
                        and all(_is_number(v) for v in poly)):
                    bad(what, 'a polygon must be a list of an even number (>= 6) of '
                        f'finite coordinates, got {str(poly)[:60]}')
        else:
            bad(what, f'segmentation must be polygons or an RLE, got {type(seg).__name__}')
