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


# Pillow's default ``Image.MAX_IMAGE_PIXELS``: Pillow warns of a decompression bomb
# above it (and refuses above twice it); COCO's images are about 640×480, and the label
# map of a larger one alone would take this many bytes
MAX_IMAGE_PIXELS = 89_478_485
_RLE_DIGITS = 6  # 6 characters of 5 bits hold any count up to MAX_IMAGE_PIXELS


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v) -> bool:
    import math
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def rle_string_counts(s: str) -> List[int]:
    """The counts of a compressed COCO RLE string, decoded as pycocotools'
    ``rleFrString`` does (5 bits a character, ``'0'`` to ``'o'``, the 0x20 bit
    for "more", a sign bit in the last character, deltas from the 3rd count).

    Raises:
        ValueError: a character out of range, a string that ends inside a number,
            a number of more than 6 characters, or a count below 0 (where the C
            code reads past the string, shifts past 32 bits or wraps around).
    """
    counts, p = [], 0
    while p < len(s):
        x, k, more = 0, 0, True
        while more:
            if p >= len(s):
                raise ValueError('the compressed RLE string ends inside a number')
            if k == _RLE_DIGITS:
                raise ValueError(f'a number in the compressed RLE string at {p - k} is '
                                 f'longer than {_RLE_DIGITS} characters')
            c = ord(s[p]) - 48
            if not 0 <= c < 64:
                raise ValueError(f'a compressed RLE string holds {s[p]!r} at {p}: only the '
                                 'characters 0 to o (ASCII 48 to 111) are allowed')
            x |= (c & 0x1f) << 5 * k
            more = bool(c & 0x20)
            p, k = p + 1, k + 1
            if not more and c & 0x10:
                x |= -1 << 5 * k
        if len(counts) > 2:
            x += counts[-2]
        if x < 0:
            raise ValueError(f'the compressed RLE string decodes to a count of {x} '
                             f'(count {len(counts)}), below 0')
        counts.append(x)
    return counts


def _check_rle(seg: dict, h: int, w: int, img_id: int) -> str:
    """'' for an RLE pycocotools can decode to exactly h×w pixels, else what is wrong."""
    size = seg.get('size')
    if not (isinstance(size, list) and len(size) == 2 and all(map(_is_int, size))
            and size == [h, w]):
        return f'an RLE of size {size!r} (H, W) on image {img_id} of {h}×{w} (H×W)'
    counts = seg.get('counts')
    if isinstance(counts, str):
        try:
            counts = rle_string_counts(counts)
        except ValueError as e:
            return str(e)
    elif isinstance(counts, list):
        for v in counts:
            if not (_is_int(v) and 0 <= v <= h * w):
                return (f'RLE counts must be integers >= 0 and at most {h * w} (H×W), '
                        f'got {v!r}')
    else:
        return 'an RLE needs counts (a string or a list)'
    if sum(counts) != h * w:
        return (f'the RLE counts sum to {sum(counts)}, not {h}×{w} = {h * w} (H×W): the '
                'mask would not cover its image')
    return ''


def _check_polygons(seg: list, h: int, w: int) -> str:
    """'' for polygons pycocotools can rasterise on an h×w image, else what is wrong."""
    if not seg:
        return 'segmentation is an empty list (no polygon)'
    for poly in seg:
        if not (isinstance(poly, list) and len(poly) >= 6 and len(poly) % 2 == 0
                and all(_is_number(v) for v in poly)):
            return ('a polygon must be a list of an even number (>= 6) of finite '
                    f'coordinates, got {str(poly)[:60]}')
        # pycocotools allocates a point a pixel along every edge: a coordinate far
        # off the image costs memory without changing the mask
        for i, v in enumerate(poly):
            size = w if i % 2 == 0 else h
            if not -size <= v <= 2 * size:
                return (f'a polygon coordinate {v!r} lies far outside the image of '
                        f'{h}×{w} (H×W)')
    return ''


def _rows(data: dict, key: str, bad) -> list:
    rows = data.get(key)
    if not isinstance(rows, list):
        bad(f'"{key}"', f'must be a list, got {type(rows).__name__}')
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            bad(f'{key}[{i}]', f'{key}[{i}] must be an object, got {type(row).__name__}')
    return rows


def _unique_ids(rows: list, key: str, what: str, bad) -> dict:
    by_id, index = {}, {}
    for i, row in enumerate(rows):
        row_id = row.get('id')
        if not _is_int(row_id):
            bad(f'{key}[{i}]', f'id must be an integer, got {row_id!r}')
        if row_id in by_id:
            bad(f'{what} {row_id}', f'listed twice ({key}[{index[row_id]}] and {key}[{i}])')
        by_id[row_id], index[row_id] = row, i
    return by_id


def _check_file_name(name, img_id, bad) -> str:
    """The stem of a plain, list-safe file name."""
    import os.path as osp
    what = f'image {img_id}'
    if not isinstance(name, str):
        bad(what, f'file_name must be a string, got {name!r}')
    if not name or '/' in name or '\\' in name or name in ('.', '..') or \
            name.startswith('..') or osp.isabs(name):
        bad(what, f'file_name {name!r}: a plain file name is expected (no folder, no "..")')
    if any(c.isspace() for c in name):
        bad(what, f'file_name {name!r} holds whitespace: the id lists are split on it; '
            'rename the image')
    if not name.isprintable():
        bad(what, f'file_name {name!r} holds a control character; rename the image')
    stem = osp.splitext(name)[0]
    from mmwsss.fileio.labels import image_id_problem  # the rule of the id lists' readers
    problem = image_id_problem(stem)
    if problem:
        bad(what, f'file_name {name!r}: its id {stem!r} {problem}; rename the image')
    return stem


def check_coco_instances(data, ann_file: str) -> None:
    """Check a parsed COCO instances json, everything the label maps and
    image-level labels are made from and everything pycocotools will be handed,
    for type as well as range, before pycocotools sees any of it.

    Categories: the 80 of COCO-14, unique integer ids whose names, in id
    order, are ``COCO_CLASSES``. Images: unique integer ``id``; ``height``
    and ``width`` positive integers, at most ``MAX_IMAGE_PIXELS`` pixels; a
    ``file_name`` that is a plain file name without whitespace, whose stem (the
    image id in the lists and the label map's name) no other image has.
    Annotations: a unique integer ``id``, an ``image_id`` of a listed image, a
    ``category_id`` of a listed category, ``iscrowd`` 0 or 1, a finite ``area``
    >= 0, and a ``segmentation`` of polygons (lists of an even number, >= 6, of
    finite coordinates near the image) or an RLE (counts a list of integers or a
    compressed string) whose ``size`` is its image's ``[height, width]`` and
    whose counts sum to height × width.

    Raises:
        WSSSInputError: naming the file, the image, annotation or category id
            (or the entry's index when it has no id) and the field.
    """
    from mmwsss.errors import WSSSInputError

    def bad(what, msg):
        raise WSSSInputError(f'{what}: {msg}', path=ann_file)

    if not isinstance(data, dict):
        bad('the file', 'the top level must be an object with "images", "annotations" '
            f'and "categories", got {type(data).__name__}')
    cats = _unique_ids(_rows(data, 'categories', bad), 'categories', 'category', bad)
    # class c is the c-th smallest category id: a json of other categories would
    # silently give one class another's name
    if len(cats) != len(COCO_CLASSES):
        bad('categories', f'{len(cats)} categories, expected {len(COCO_CLASSES)} (COCO-14)')
    for cat_id, name in zip(sorted(cats), COCO_CLASSES):
        if cats[cat_id].get('name') != name:
            bad(f'category {cat_id}', f"name {cats[cat_id].get('name')!r}, but COCO-14's "
                f'category of this rank is {name!r}')
    imgs = _unique_ids(_rows(data, 'images', bad), 'images', 'image', bad)
    anns = _rows(data, 'annotations', bad)
    stems = {}
    for img_id, img in imgs.items():
        for key in ('height', 'width'):
            if not (_is_int(img.get(key)) and img[key] > 0):
                bad(f'image {img_id}', f'{key} must be a positive integer, got '
                    f'{img.get(key)!r}')
        h, w = img['height'], img['width']
        if h * w > MAX_IMAGE_PIXELS:
            bad(f'image {img_id}', f"{h}×{w} = {h * w} pixels, more than Pillow's limit of "
                f'{MAX_IMAGE_PIXELS}: not a COCO image size')
        stem = _check_file_name(img.get('file_name'), img_id, bad)
        # case-folded: on a case-insensitive disk 'A.png' and 'a.png' are one file
        if stem.casefold() in stems:
            other = stems[stem.casefold()]
            bad(f'image {img_id}', f'file_name {img["file_name"]!r} names the same label map '
                f'as image {other} ({imgs[other]["file_name"]!r}): two images with one id '
                f'{stem!r}')
        stems[stem.casefold()] = img_id
    _unique_ids(anns, 'annotations', 'annotation', bad)
    for ann in anns:
        what = f'annotation {ann["id"]}'
        img = imgs.get(ann.get('image_id')) if _is_int(ann.get('image_id')) else None
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
            msg = _check_rle(seg, img['height'], img['width'], ann['image_id'])
        elif isinstance(seg, list):
            msg = _check_polygons(seg, img['height'], img['width'])
        else:
            msg = f'segmentation must be polygons or an RLE, got {type(seg).__name__}'
        if msg:
            bad(what, msg)


def load_coco(ann_file: str):
    """A pycocotools ``COCO`` of an instances json, built only after
    :func:`check_coco_instances` passed (pycocotools' own index would already
    have merged duplicate ids)."""
    import contextlib
    import io
    import json

    from pycocotools.coco import COCO

    from mmwsss.errors import WSSSInputError
    def no_repeated_key(pairs):  # json keeps the last of two "id"s in silence
        obj = dict(pairs)
        if len(obj) != len(pairs):
            seen = set()
            key = next(k for k, _ in pairs if k in seen or seen.add(k))
            raise WSSSInputError(f'the key {key!r} appears twice in one object '
                                 f'({str(obj)[:80]})', path=ann_file)
        return obj

    try:
        with open(ann_file, 'rb') as f:
            data = json.load(f, object_pairs_hook=no_repeated_key)
    except (ValueError, RecursionError) as e:  # JSONDecodeError, UnicodeDecodeError
        if isinstance(e, WSSSInputError):
            raise
        raise WSSSInputError(f'not valid JSON: {e}', path=ann_file) from None
    check_coco_instances(data, ann_file)
    coco = COCO()
    coco.dataset = data
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints its progress
        coco.createIndex()
    return coco
