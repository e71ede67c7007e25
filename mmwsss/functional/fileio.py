"""Small I/O helpers: atomic writes and strict 8-bit PNG reading."""
import io
import os
import os.path as osp
import tempfile
from typing import Callable

import cv2
import numpy as np
from PIL import Image

from .errors import WSSSInputError


def atomic_write(path: str, write: Callable) -> None:
    """Write a file atomically: ``write(fileobj)`` into a temporary file in the
    same folder, then rename it over ``path``. A crash leaves no partial file."""
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix='.' + osp.basename(path), suffix='.tmp')
    try:
        with os.fdopen(fd, 'wb') as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.unlink(tmp)
        raise


def save_label_png(path: str, label: np.ndarray, palette=None) -> None:
    """Atomically save an H×W uint8 label map as a (palette) PNG."""
    img = Image.fromarray(np.asarray(label, dtype=np.uint8), mode='L')
    if palette is not None:
        img = img.convert('P')
        flat = np.zeros((256, 3), dtype=np.uint8)
        pal = np.asarray(palette, dtype=np.uint8).reshape(-1, 3)[:256]
        flat[:len(pal)] = pal
        img.putpalette(flat.reshape(-1).tolist())
    buf = io.BytesIO()
    img.save(buf, format='PNG')
    atomic_write(path, lambda f: f.write(buf.getvalue()))


def read_gray_png(path: str, img_id=None, what: str = 'image') -> np.ndarray:
    """Read an image file as 8-bit gray (RGB → L with PIL's ITU-R 601-2 luma).

    Raises:
        WSSSInputError: the file is missing or not a readable image.
    """
    if not osp.isfile(path):
        raise WSSSInputError(f'{what} file not found', img_id, path)
    # Fast path: an 8-bit gray PNG decoded by OpenCV holds the same values as
    # PIL's; anything else (RGB, palette, damaged) goes through PIL.
    arr = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if arr is not None and arr.ndim == 2 and arr.dtype == np.uint8:
        return arr
    try:
        with Image.open(path) as img:
            if img.mode != 'L':
                img = img.convert('L')
            return np.asarray(img, dtype=np.uint8)
    except (OSError, SyntaxError, ValueError) as e:  # PIL raises these on bad data
        raise WSSSInputError(f'unreadable {what} ({e})', img_id, path) from e


def read_label_png(path: str, img_id=None, what: str = 'label map') -> np.ndarray:
    """Read a label map PNG as its raw 8-bit values (palette indices for 'P' PNGs)."""
    if not osp.isfile(path):
        raise WSSSInputError(f'{what} file not found', img_id, path)
    try:
        with Image.open(path) as img:
            if img.mode not in ('P', 'L'):
                raise WSSSInputError(f'{what} must be a palette or 8-bit gray PNG, got mode '
                                     f'{img.mode}', img_id, path)
            return np.asarray(img, dtype=np.uint8)
    except (OSError, SyntaxError, ValueError) as e:
        if isinstance(e, WSSSInputError):
            raise
        raise WSSSInputError(f'unreadable {what} ({e})', img_id, path) from e
