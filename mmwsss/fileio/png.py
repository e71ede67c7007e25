"""PNG files: strict 8-bit reading through ``mmengine.fileio``.

Readers take ``backend_args`` as mmseg's ``LoadAnnotations`` does, so the maps
can live wherever the images live; local files keep a direct OpenCV path.
"""
import io
import os.path as osp
from typing import Optional, Tuple

import cv2
import mmcv
import mmengine.fileio as fileio
import numpy as np
from PIL import Image

from mmwsss.errors import WSSSInputError
from .atomic import atomic_write


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


def is_local(path: str, backend_args: Optional[dict] = None) -> bool:
    """Whether ``path`` is read from the local disk (no storage backend)."""
    return (backend_args is None or backend_args.get('backend') == 'local') and \
        '://' not in str(path)


def read_bytes(path: str, img_id=None, what: str = 'file',
               backend_args: Optional[dict] = None) -> bytes:
    """The content of a file through ``mmengine.fileio.get``; a missing file
    is a :class:`WSSSInputError` naming the image and the file."""
    try:
        return fileio.get(path, backend_args=backend_args)
    except FileNotFoundError as e:
        raise WSSSInputError(f'{what} file not found', img_id, path) from e


_PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'


def png_header_hw(head: bytes) -> Optional[Tuple[int, int]]:
    """H×W from a PNG's first 24 bytes (its IHDR chunk); None if not a PNG."""
    if len(head) < 24 or head[:8] != _PNG_SIGNATURE or head[12:16] != b'IHDR':
        return None
    return int.from_bytes(head[20:24], 'big'), int.from_bytes(head[16:20], 'big')


# Pillow's default MAX_IMAGE_PIXELS: with no image size to compare with, a map's
# header may not claim more (a few-KB PNG or npz can claim gigabytes).
MAX_MAP_PIXELS = 89_478_485


def check_header_hw(hw_found, hw: Optional[Tuple[int, int]], what: str, img_id, path) -> None:
    """Refuse a map whose header says another size than the image's (or, without
    ``hw``, more than ``MAX_MAP_PIXELS``), before it is decoded (a small
    compressed file can decode to gigabytes)."""
    if hw_found is None:
        return
    if hw is not None and tuple(hw_found) != tuple(hw):
        raise WSSSInputError(
            f'{what} is {hw_found[1]}×{hw_found[0]} (W×H) but the image is '
            f'{hw[1]}×{hw[0]}', img_id, path)
    if hw is None and int(hw_found[0]) * int(hw_found[1]) > MAX_MAP_PIXELS:
        raise WSSSInputError(
            f'{what} is {hw_found[1]}×{hw_found[0]} (W×H), more than {MAX_MAP_PIXELS} '
            "pixels (Pillow's limit for an image): refused before decoding", img_id, path)


def read_gray_png(path: str, img_id=None, what: str = 'image',
                  backend_args: Optional[dict] = None,
                  hw: Optional[Tuple[int, int]] = None) -> np.ndarray:
    """Read an 8-bit gray map (saliency, CAM) as H×W uint8.

    Gray PNGs (and RGB ones whose three channels are equal) are read as they
    are; 16-bit, palette and colour images are refused (their values are not
    scores /255), as are missing, empty and unreadable files. With ``hw``, a
    PNG whose header gives another size is refused before it is decoded.

    Raises:
        WSSSInputError: naming the image and the file.
    """
    # One read of the file: the header check and the decode share its bytes.
    if is_local(path, backend_args):
        if not osp.isfile(path):
            raise WSSSInputError(f'{what} file not found', img_id, path)
        with open(path, 'rb') as f:
            data = f.read()
    else:
        data = read_bytes(path, img_id, what, backend_args)
    if not data:
        raise WSSSInputError(f'{what} file is empty (0 bytes)', img_id, path)
    check_header_hw(png_header_hw(data[:24]), hw, what, img_id, path)
    # Fast path: an 8-bit gray PNG decoded by OpenCV holds the same values as
    # PIL's; anything else (RGB, palette, damaged) goes through PIL.
    arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    src = io.BytesIO(data)
    if arr is not None and arr.ndim == 2 and arr.dtype == np.uint8:
        return arr
    try:
        with Image.open(src) as img:
            mode = img.mode
            if mode in ('I;16', 'I;16B', 'I;16L', 'I', 'F'):
                # PIL's convert('L') would clip every value above 255 to 255
                raise WSSSInputError(f'{what} is a {mode} PNG (more than 8 bits): save it as '
                                     '8-bit gray, value / 255 being the score', img_id, path)
            if mode == 'P':  # an index mask or a colour map: luma would invent values
                raise WSSSInputError(f'{what} is a palette PNG: save it as 8-bit gray (mode '
                                     'L), value / 255 being the score', img_id, path)
            if mode in ('RGB', 'RGBA'):
                rgb = np.asarray(img.convert('RGB'))
                if (rgb != rgb[..., :1]).any():  # a colour heat map, not a gray map
                    raise WSSSInputError(f'{what} is a colour image (a heat map?): save it '
                                         'as 8-bit gray, value / 255 being the score',
                                         img_id, path)
                return np.ascontiguousarray(rgb[..., 0])
            if mode != 'L':
                img = img.convert('L')
            return np.asarray(img, dtype=np.uint8)
    except (OSError, SyntaxError, ValueError) as e:  # PIL raises these on bad data
        if isinstance(e, WSSSInputError):
            raise
        raise WSSSInputError(f'unreadable {what} ({e})', img_id, path) from e


def read_saliency(path: str, img_id=None, hw: Optional[Tuple[int, int]] = None,
                  backend_args: Optional[dict] = None) -> np.ndarray:
    """A saliency map as H×W uint8 (value / 255 is the saliency), checked
    against the image size ``hw`` when given."""
    sal = read_gray_png(path, img_id, 'saliency map', backend_args, hw)
    if hw is not None and sal.shape != tuple(hw):
        raise WSSSInputError(
            f'saliency map is {sal.shape[1]}×{sal.shape[0]} (W×H) but the image is '
            f'{hw[1]}×{hw[0]}', img_id, path)
    return sal


def read_label_png(path: str, img_id=None, what: str = 'label map',
                   backend_args: Optional[dict] = None) -> np.ndarray:
    """Read a label map PNG as its raw 8-bit values (palette indices for 'P' PNGs)."""
    if is_local(path, backend_args):
        if not osp.isfile(path):
            raise WSSSInputError(f'{what} file not found', img_id, path)
        src = path
    else:
        src = io.BytesIO(read_bytes(path, img_id, what, backend_args))
    try:
        with Image.open(src) as img:
            if img.mode not in ('P', 'L'):
                raise WSSSInputError(f'{what} must be a palette or 8-bit gray PNG, got mode '
                                     f'{img.mode}', img_id, path)
            return np.asarray(img, dtype=np.uint8)
    except (OSError, SyntaxError, ValueError) as e:
        if isinstance(e, WSSSInputError):
            raise
        raise WSSSInputError(f'unreadable {what} ({e})', img_id, path) from e


def read_image(path: str, img_id=None, channel_order: str = 'rgb',
               backend_args: Optional[dict] = None) -> np.ndarray:
    """An image as H×W×3 uint8 (as mmcv's ``LoadImageFromFile`` decodes it); a
    missing, empty or undecodable file is a :class:`WSSSInputError` naming it
    (OpenCV's own error names no file)."""
    data = read_bytes(path, img_id, 'image', backend_args)
    if not data:
        raise WSSSInputError('image file is empty (0 bytes)', img_id, path)
    try:
        img = mmcv.imfrombytes(data, channel_order=channel_order)
    except Exception as e:  # noqa: BLE001  (cv2.error, PIL errors: no path in them)
        raise WSSSInputError(f'cannot decode the image ({e})', img_id, path) from e
    if img is None:
        raise WSSSInputError('cannot decode the image', img_id, path)
    return img


def image_hw(path: str, img_id=None) -> Tuple[int, int]:
    """H×W of a local image from its header (no decoding)."""
    if not osp.isfile(path):
        raise WSSSInputError('image file not found', img_id, path)
    if osp.getsize(path) == 0:
        raise WSSSInputError('image file is empty (0 bytes)', img_id, path)
    try:
        with Image.open(path) as img:
            w, h = img.size
    except (OSError, SyntaxError, ValueError) as e:
        raise WSSSInputError(f'unreadable image ({e})', img_id, path) from e
    return h, w


def _jpeg_without_app1(head: bytes) -> bool:
    """Whether a JPEG's segments before its scan hold no APP1 (where EXIF and
    XMP orientation tags live): then it is upright without parsing it. False
    when unsure (not a JPEG, a header longer than ``head``)."""
    if head[:2] != b'\xff\xd8':
        return False
    i = 2
    while i + 4 <= len(head):
        if head[i] != 0xFF:
            return False
        marker = head[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker == 0xE1:  # APP1: Exif or XMP
            return False
        if marker == 0xDA:  # start of scan: no APP1 before it
            return True
        i += 2 + int.from_bytes(head[i + 2:i + 4], 'big')
    return False


def exif_orientation(path: str) -> int:
    """The EXIF orientation tag of a local image (1, upright, when absent or
    unreadable): mmcv's ``LoadImageFromFile`` rotates a tagged JPEG, while the
    CAM and saliency maps of WSSS stores are in the file's stored frame."""
    if '://' in str(path) or not osp.isfile(path):
        return 1
    # A JPEG without an APP1 segment (VOC's, COCO's) needs no PIL parse: about
    # 0.01 ms instead of 0.1 ms, on every image of every epoch.
    try:
        with open(path, 'rb') as f:
            if _jpeg_without_app1(f.read(1 << 16)):
                return 1
    except OSError:
        return 1
    try:
        with Image.open(path) as img:
            return int(img.getexif().get(0x0112, 1) or 1)
    except (OSError, SyntaxError, ValueError):
        return 1


def check_upright(img_path: str, img_id=None, what: str = 'the CAM/saliency maps') -> None:
    """Refuse an image that carries an EXIF orientation tag.

    mmcv's ``LoadImageFromFile`` rotates a tagged JPEG, while every map or mask
    read beside it (CAMs, saliency, a ``gt_subset`` GT mask) is in the file's
    stored frame: a square image would train on a rotated label in silence.
    One frame for the whole pipeline, so the tagged image is refused rather than
    guessed at.

    Args:
        img_path (str): the image.
        img_id (str, optional): its id, for the message.
        what (str): the files read beside it, for the message.

    Raises:
        WSSSInputError: naming the image and the file.
    """
    if exif_orientation(img_path) != 1:
        raise WSSSInputError(
            f'the image carries an EXIF orientation tag, which LoadImageFromFile applies and '
            f'{what} do not: store it upright without the tag (e.g. `mogrify -auto-orient`) '
            f'and {what} in that frame', img_id, img_path)
