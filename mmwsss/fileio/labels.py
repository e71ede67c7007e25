"""Image-level labels: the WSSS-BED list format and derivation from label maps."""
from typing import Dict, List, Optional

import numpy as np

from mmwsss.errors import WSSSInputError


def parse_cls_label_file(path: str, num_classes: Optional[int] = None) -> Dict[str, List[int]]:
    """Read a WSSS-BED list file: one image a line, ``<img_id> <c> <c> ...``
    with 0-based foreground class ids (``2007_000032 0 14``).

    Returns:
        dict[str, list[int]]: image id → sorted class ids, in file order.
    """
    out = {}
    with open(path) as f:
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
    return out


def format_cls_label_line(img_id: str, classes) -> str:
    return ' '.join([img_id] + [str(int(c)) for c in sorted(classes)])


def cls_labels_from_label_map(label: np.ndarray, num_classes: int,
                              ignore_index: int = 255) -> List[int]:
    """0-based foreground classes present in a label map (0 bg, c+1 class c)."""
    vals = np.unique(label)
    return [int(v) - 1 for v in vals if 0 < v <= num_classes and v != ignore_index]
