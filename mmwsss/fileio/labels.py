"""Image-level labels: the WSSS-BED list format and derivation from label maps."""
from typing import Dict, List, Optional, Sequence

import numpy as np

from mmwsss.errors import WSSSInputError


_IMG_EXTS = ('.jpg', '.jpeg', '.png', '.bmp')


def read_id_list(path: str, what: str = 'image list') -> List[str]:
    """Image ids: the first token of each line, so that a WSSS-BED class list
    (``<img_id> <c> ...``) serves as a split list too. Blank lines, a UTF-8 BOM
    and CRLF endings are fine; a path instead of an id (a DeepLab-style
    ``/JPEGImages/x.jpg /SegmentationClassAug/x.png`` list), an id listed twice
    or an empty list is a :class:`WSSSInputError` naming the file and the line.
    """
    ids, seen = [], {}
    with open(path, encoding='utf-8-sig') as f:
        for lineno, line in enumerate(f, 1):
            parts = line.split()
            if not parts:
                continue
            img_id = parts[0]
            if '/' in img_id or '\\' in img_id or img_id.lower().endswith(_IMG_EXTS):
                raise WSSSInputError(
                    f'line {lineno}: {img_id!r} is a path, not an image id (a DeepLab-style '
                    'list?): give one id a line, e.g. 2007_000032', path=path)
            if img_id in seen:
                raise WSSSInputError(f'line {lineno}: listed twice (first on line '
                                     f'{seen[img_id]})', img_id, path)
            seen[img_id] = lineno
            ids.append(img_id)
    if not ids:
        raise WSSSInputError(f'the {what} is empty', path=path)
    return ids


def parse_cls_label_file(path: str, num_classes: Optional[int] = None) -> Dict[str, List[int]]:
    """Read a WSSS-BED list file: one image a line, ``<img_id> <c> <c> ...``
    with 0-based foreground class ids (``2007_000032 0 14``).

    Returns:
        dict[str, list[int]]: image id → sorted class ids, in file order.
    """
    out = {}
    with open(path, encoding='utf-8-sig') as f:
        for lineno, line in enumerate(f, 1):
            parts = line.split()
            if not parts:
                continue
            img_id, ids = parts[0], parts[1:]
            try:
                cls = sorted({int(x) for x in ids})
            except ValueError:
                raise WSSSInputError(f'line {lineno}: class ids must be integers: {line!r}',
                                     img_id, path) from None
            bad = [c for c in cls if c < 0 or (num_classes is not None and c >= num_classes)]
            if bad:
                raise WSSSInputError(
                    f'line {lineno}: class id(s) {bad} outside 0..{(num_classes or 0) - 1}',
                    img_id, path)
            if img_id in out:
                raise WSSSInputError(f'line {lineno}: image listed twice', img_id, path)
            out[img_id] = cls
    if not out:
        raise WSSSInputError('the image-level label list is empty', path=path)
    return out


def format_cls_label_line(img_id: str, classes) -> str:
    return ' '.join([img_id] + [str(int(c)) for c in sorted(classes)])


def cls_labels_from_label_map(label: np.ndarray, num_classes: int,
                              ignore_index: int = 255) -> List[int]:
    """0-based foreground classes present in a label map (0 bg, c+1 class c)."""
    vals = np.unique(label)
    return [int(v) - 1 for v in vals if 0 < v <= num_classes and v != ignore_index]


def draw_subset(ids: Sequence[str], size: Optional[int] = None,
                fraction: Optional[float] = None, seed: int = 0) -> List[str]:
    """A seeded random subset of ``ids`` (for a semi-supervised ``gt_subset``),
    in the order of ``ids``.

    Args:
        ids (Sequence[str]): the split's image ids (unique).
        size (int, optional): how many to draw.
        fraction (float, optional): or which fraction (rounded, at least 1).
        seed (int): the random seed: the same ids and seed give the same subset.
    """
    if (size is None) == (fraction is None):
        raise ValueError('give exactly one of size and fraction')
    if len(set(ids)) != len(ids):
        raise ValueError('the split lists an image id twice')
    if fraction is not None:
        if not 0 < fraction <= 1:
            raise ValueError(f'fraction must be in (0, 1], not {fraction}')
        size = max(1, round(fraction * len(ids)))
    if not 0 < size <= len(ids):
        raise ValueError(f'size must be in 1..{len(ids)}, not {size}')
    keep = set(np.random.default_rng(seed).choice(len(ids), size, replace=False).tolist())
    return [i for k, i in enumerate(ids) if k in keep]
