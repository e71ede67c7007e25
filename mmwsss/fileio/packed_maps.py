"""The ``packed`` map store: one uncompressed file per image, its saliency map
and its CAMs as uint8, behind a small header that is checked before the payload
is read.

Decoding a PNG costs about 0.5–0.8 ms for a VOC-size map (inflate + unfilter);
reading three raw uint8 maps from the page cache costs a memory copy. The file
``<cam_dir>/<img_id>.maps`` (all integers little-endian)::

    offset  size  field
    0       8     magic b'WSSSMAPS'
    8       2     version (1)
    10      2     flags: bit 0 set = a saliency map comes first in the payload
    12      4     H
    16      4     W
    20      2     K, the number of CAMs
    22      2     0 (reserved)
    24      4     payload offset (the header's size, a multiple of 64)
    28      8     payload size = (K + saliency) · H · W
    36      2·K   class ids, uint16, strictly increasing (0-based)
    ...           zeros up to the payload offset
    offset  ...   [saliency H×W] then K CAMs H×W, uint8, C order

A CAM holds round(255·cam), as ``bed_png`` and uint8 ``npz`` do; the saliency
map holds the values of the saliency PNG. The payload is 64-byte aligned, so
``np.memmap(path, np.uint8, 'r', offset, (n, H, W))`` maps it as is; the reader
here copies it with one ``readinto`` (cheaper than a mapping for < 1 MB files).
"""
import os
import os.path as osp
import struct
from typing import NamedTuple, Optional, Sequence, Tuple

import numpy as np

from mmwsss.errors import WSSSInputError
from .png import atomic_write, is_local, read_bytes

MAGIC = b'WSSSMAPS'
VERSION = 1
SUFFIX = '.maps'
FLAG_SALIENCY = 1
ALIGN = 64
MAX_MAPS = 1000  # COCO has 80 classes; more is a damaged or foreign file
MAX_SIDE = 1 << 15  # 32768 pixels: a larger side is a damaged header
# a payload above this is allocated only when the file holds that many bytes on
# disk: a sparse file (a hole where the payload should be) is damaged, and its
# header alone would make the reader allocate up to MAX_MAPS·MAX_SIDE² bytes
SPARSE_CHECK_BYTES = 64 << 20
_FIXED = struct.Struct('<8sHHIIHHIQ')  # 36 bytes


class PackedHeader(NamedTuple):
    """What a ``.maps`` header says: image size, CAM class ids, whether a saliency
    map comes first, and where the payload lies."""
    hw: Tuple[int, int]
    classes: Tuple[int, ...]
    has_saliency: bool
    offset: int
    size: int

    @property
    def num_maps(self) -> int:
        return len(self.classes) + int(self.has_saliency)


def _header_size(num_cams: int) -> int:
    return -(-(_FIXED.size + 2 * num_cams) // ALIGN) * ALIGN


def pack_header(hw: Tuple[int, int], classes: Sequence[int], has_saliency: bool) -> bytes:
    """The header bytes (padded to the payload offset) of a ``.maps`` file."""
    h, w = (int(v) for v in hw)
    classes = [int(c) for c in classes]
    offset = _header_size(len(classes))
    size = (len(classes) + int(has_saliency)) * h * w
    head = _FIXED.pack(MAGIC, VERSION, FLAG_SALIENCY if has_saliency else 0, h, w,
                       len(classes), 0, offset, size)
    head += np.asarray(classes, '<u2').tobytes()
    return head + bytes(offset - len(head))


def parse_header(head: bytes, file_size: Optional[int] = None, img_id=None, path=None,
                 hw: Optional[Tuple[int, int]] = None,
                 max_class: Optional[int] = None) -> PackedHeader:
    """Check a ``.maps`` header; nothing of the payload is needed.

    Args:
        head (bytes): the file's first bytes (at least the payload offset; the
            first 64 hold the header of up to 14 CAMs).
        file_size (int, optional): the file's size, checked against the header
            (a truncated file, or one with trailing bytes, is refused).
        img_id, path: for messages.
        hw (tuple[int, int], optional): the image's H×W.
        max_class (int, optional): the largest valid class id.

    Returns:
        PackedHeader

    Raises:
        WSSSInputError: a foreign file, another version, a size other than
        ``hw`` or the file's, class ids repeated, unsorted or out of range.
    """
    if len(head) < _FIXED.size:
        raise WSSSInputError(f'packed map file is truncated: {len(head)} bytes, less than '
                             f'its {_FIXED.size}-byte header', img_id, path)
    magic, version, flags, h, w, k, reserved, offset, size = _FIXED.unpack_from(head)
    if magic != MAGIC:
        raise WSSSInputError(f'not a packed map file (magic {magic!r}, expected {MAGIC!r})',
                             img_id, path)
    if version != VERSION:
        raise WSSSInputError(f'packed map file version {version}; this mmwsss reads version '
                             f'{VERSION}: repack it with tools/pack_maps.py --force', img_id,
                             path)
    if flags & ~FLAG_SALIENCY or reserved:
        raise WSSSInputError(f'packed map header has unknown flags {flags:#x} / reserved '
                             f'{reserved}', img_id, path)
    if not (0 < h <= MAX_SIDE and 0 < w <= MAX_SIDE) or k > MAX_MAPS:
        raise WSSSInputError(f'packed map header is damaged: {k} CAMs of {w}×{h} (W×H)',
                             img_id, path)
    has_sal = bool(flags & FLAG_SALIENCY)
    if offset != _header_size(k) or size != (k + has_sal) * h * w:
        raise WSSSInputError(
            f'packed map header is damaged: payload at {offset} of {size} bytes, but '
            f'{k} CAMs{" and a saliency map" if has_sal else ""} of {w}×{h} need '
            f'{(k + has_sal) * h * w} bytes at {_header_size(k)}', img_id, path)
    if hw is not None and (h, w) != tuple(hw):
        raise WSSSInputError(f'packed maps are {w}×{h} (W×H) but the image is '
                             f'{hw[1]}×{hw[0]}', img_id, path)
    if file_size is not None and file_size != offset + size:
        what = 'truncated' if file_size < offset + size else 'longer than its header says'
        raise WSSSInputError(f'packed map file is {what}: {file_size} bytes, the header '
                             f'says {offset + size}', img_id, path)
    if len(head) < _FIXED.size + 2 * k:
        raise WSSSInputError('packed map file is truncated inside its class ids', img_id,
                             path)
    classes = tuple(int(c) for c in np.frombuffer(head, '<u2', k, _FIXED.size))
    if any(b <= a for a, b in zip(classes, classes[1:])):
        raise WSSSInputError(f'packed map class ids must be strictly increasing (no '
                             f'repeats), got {list(classes)}', img_id, path)
    if max_class is not None and classes and classes[-1] > max_class:
        bad = [c for c in classes if c > max_class]
        raise WSSSInputError(f'unknown class id(s) {bad} (valid: 0..{max_class})', img_id,
                             path)
    return PackedHeader((h, w), classes, has_sal, offset, size)


def _check_not_sparse(header: PackedHeader, st: os.stat_result, img_id, path) -> None:
    """Refuse a large payload the file does not hold on disk (a sparse file):
    bound the allocation by the file's real size before allocating."""
    blocks = getattr(st, 'st_blocks', None)
    if header.size <= SPARSE_CHECK_BYTES or blocks is None:
        return
    on_disk = blocks * 512
    if on_disk < header.size // 2:
        raise WSSSInputError(
            f'packed map file is damaged: its header says {header.size} bytes of maps '
            f'({header.num_maps} of {header.hw[1]}×{header.hw[0]}, W×H), but the file holds '
            f'only {on_disk} bytes on disk (a sparse file); repack it with '
            'tools/pack_maps.py --force', img_id, path)


def read_packed(path: str, img_id=None, hw: Optional[Tuple[int, int]] = None,
                max_class: Optional[int] = None,
                backend_args: Optional[dict] = None) -> Tuple[PackedHeader, np.ndarray]:
    """Read a ``.maps`` file: the header is checked before the payload is read.

    Local files are read with one ``readinto`` after the header and the file
    size are checked; other backends through ``mmengine.fileio.get`` (the
    header is then checked before the payload is interpreted).

    Args:
        path (str): the ``.maps`` file.
        img_id: for messages.
        hw (tuple[int, int], optional): the image's H×W.
        max_class (int, optional): the largest valid class id.
        backend_args (dict, optional): ``mmengine.fileio`` backend arguments.

    Returns:
        tuple[PackedHeader, np.ndarray]: the header and the N×H×W uint8 maps
        (N = K, plus 1 for the saliency map, which comes first).

    Raises:
        WSSSInputError: a missing file, or any fault :func:`parse_header` finds.
    """
    if is_local(path, backend_args):
        try:
            f = open(path, 'rb', buffering=0)
        except FileNotFoundError:
            raise WSSSInputError('packed map file not found', img_id, path) from None
        except IsADirectoryError:
            raise WSSSInputError('packed map path is a folder', img_id, path) from None
        with f:
            head = f.read(ALIGN)
            if len(head) >= _FIXED.size:  # more than 14 CAMs: the rest of the ids
                k = _FIXED.unpack_from(head)[5]
                if _header_size(k) > len(head) and k <= MAX_MAPS:
                    head += f.read(_header_size(k) - len(head))
            st = os.fstat(f.fileno())
            header = parse_header(head, st.st_size, img_id, path, hw, max_class)
            _check_not_sparse(header, st, img_id, path)
            maps = np.empty((header.num_maps, ) + header.hw, np.uint8)
            f.seek(header.offset)
            if f.readinto(memoryview(maps).cast('B')) != header.size:  # changed meanwhile
                raise WSSSInputError('packed map file is truncated', img_id, path)
        return header, maps
    data = read_bytes(path, img_id, 'packed map', backend_args)
    header = parse_header(data[:_header_size(MAX_MAPS)], len(data), img_id, path, hw,
                          max_class)
    maps = np.frombuffer(data, np.uint8, header.size, header.offset)
    return header, maps.reshape((header.num_maps, ) + header.hw)


def save_packed(path: str, classes: Sequence[int], cams: np.ndarray,
                saliency: Optional[np.ndarray] = None) -> None:
    """Atomically write a ``.maps`` file.

    Args:
        path (str): ``<cam_dir>/<img_id>.maps``.
        classes (Sequence[int]): K 0-based class ids, any order (written sorted).
        cams (np.ndarray): K×H×W uint8 CAMs (round(255·cam)).
        saliency (np.ndarray, optional): H×W uint8 saliency map.
    """
    cams = np.asarray(cams)
    classes = np.asarray(classes, np.int64).reshape(-1)
    if cams.dtype != np.uint8 or cams.ndim != 3 or len(cams) != len(classes):
        raise ValueError(f'need K class ids and K×H×W uint8 CAMs, got {classes.shape} and '
                         f'{cams.dtype} {cams.shape}')
    if len(np.unique(classes)) != len(classes) or (classes < 0).any() or \
            (classes >= 1 << 16).any():
        raise ValueError(f'class ids must be distinct and in 0..65535, got {classes.tolist()}')
    hw = cams.shape[1:]
    if saliency is not None:
        saliency = np.asarray(saliency)
        if saliency.dtype != np.uint8 or saliency.shape != hw:
            raise ValueError(f'saliency must be {hw} uint8, got {saliency.dtype} '
                             f'{saliency.shape}')
    order = np.argsort(classes, kind='stable')
    head = pack_header(hw, classes[order], saliency is not None)

    def write(f):
        f.write(head)
        if saliency is not None:
            f.write(np.ascontiguousarray(saliency).data)
        f.write(np.ascontiguousarray(cams[order]).data)

    atomic_write(path, write)


def packed_path(cam_dir: str, img_id: str) -> str:
    """``<cam_dir>/<img_id>.maps``."""
    return osp.join(cam_dir, img_id + SUFFIX)
