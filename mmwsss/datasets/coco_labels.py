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
