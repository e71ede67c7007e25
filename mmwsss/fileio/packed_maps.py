"""The ``packed`` map store: one file per image, its saliency map and its CAMs
as uint8, behind a small header that is checked before the payload is read;
uncompressed (version 1) or compressed (version 2).

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

Version 2 (compressed, ``tools/pack_maps.py --compress``) keeps the fields
above, with these changes: offset 22 holds the codec (1 zlib, 2 lzma, 3 bz2, 4 lz4),
the payload size is the compressed stream's, and a box table follows the class
ids, one 10-byte entry per map (saliency first)::

    1     fill: the value of every pixel outside the box
    1     0 (reserved)
    2·4   y0, y1, x0, x1 (uint16): the box of the pixels that differ from fill

The stream decompresses to each map's box in turn (C order). For zlib, lzma
and bz2, row 0 is stored as is and every later row as its difference from the
row above (mod 256, PNG's "Up" filter): the row differences of a smooth map
are runs of small values that deflate well, and undoing them costs a
cumulative sum per map. lz4 (block format, high-compression mode) stores the
boxes' rows as they are (it decodes 5–10× faster than inflate, and the
cumulative sum would cost more than its decode: ``benchmarks/README.md``),
behind the CRC-32 of the lz4 block, which has no checksum of its own.
CAMs are zero away from their object, so the boxes drop most pixels. The maps
come back exactly as written.
"""
import bz2
import lzma
import os
import os.path as osp
import struct
import zlib
from typing import Callable, NamedTuple, Optional, Sequence, Tuple

import numpy as np

from mmwsss.errors import WSSSInputError
from .png import atomic_write, is_local, read_bytes

MAGIC = b'WSSSMAPS'
VERSION = 1  # uncompressed
VERSION_COMPRESSED = 2
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
_BOX = np.dtype([('fill', 'u1'), ('reserved', 'u1'), ('y0', '<u2'), ('y1', '<u2'),
                 ('x0', '<u2'), ('x1', '<u2')])  # 10 bytes


class _LZ4Decompressor:
    """lz4's block decoder behind the streaming decompressors' interface: one
    call, never past ``max_length`` (the buffer it decodes into); an early end,
    a longer stream or trailing bytes are errors of the block itself. An lz4
    block has no checksum (zlib, lzma and bz2 streams do), so the stream starts
    with the CRC-32 of the block: a flipped byte is an error, not a wrong map."""

    def __init__(self):
        self.eof, self.unused_data = False, b''

    def decompress(self, data, max_length: int) -> bytes:
        block = _lz4_block()
        if len(data) < 4 or zlib.crc32(data[4:]) != int.from_bytes(data[:4], 'little'):
            raise ValueError('its CRC-32 does not match (damaged)')
        try:
            out = block.decompress(data[4:], uncompressed_size=max_length)
        except block.LZ4BlockError as e:
            raise ValueError(str(e)) from None
        self.eof = True
        return out


def _lz4_block():
    try:
        import lz4.block
    except ImportError:  # pragma: no cover - a dependency; a bare install may lack it
        raise ImportError('lz4 packed maps need the lz4 package (pip install lz4)') from None
    return lz4.block


# codec id in the header -> (name, a fresh decompressor); every one of them
# takes max_length, so a stream is never inflated past what the header allows
CODECS = {1: ('zlib', zlib.decompressobj), 2: ('lzma', lzma.LZMADecompressor),
          3: ('bz2', bz2.BZ2Decompressor), 4: ('lz4', _LZ4Decompressor)}
CODEC_IDS = {name: i for i, (name, _) in CODECS.items()}
DEFAULT_LEVEL = dict(zlib=6, lzma=6, bz2=9, lz4=9)
LEVELS = dict(zlib=range(0, 10), lzma=range(0, 10), bz2=range(1, 10), lz4=range(1, 13))
ROW_FILTERED = frozenset({'zlib', 'lzma', 'bz2'})  # lz4's rows are stored as they are


class Codec(NamedTuple):
    """How a ``.maps`` file is compressed: ``name`` None for the uncompressed
    version 1 file, else ``'zlib'``, ``'lzma'``, ``'bz2'`` or ``'lz4'``;
    ``level`` None for its :data:`DEFAULT_LEVEL`."""
    name: Optional[str] = None
    level: Optional[int] = None
# more than this many maps' bytes per compressed byte, on a payload above
# SPARSE_CHECK_BYTES, is a bomb: deflate tops out near 1032:1, and real maps
# with a box per map compress by 20–50:1
MAX_RATIO = 4096


class PackedHeader(NamedTuple):
    """What a ``.maps`` header says: image size, CAM class ids, whether a saliency
    map comes first, and where the payload lies (``size``: its bytes in the
    file, compressed in version 2, whose ``codec`` and ``boxes`` are set)."""
    hw: Tuple[int, int]
    classes: Tuple[int, ...]
    has_saliency: bool
    offset: int
    size: int
    codec: Optional[str] = None
    boxes: Optional[np.ndarray] = None

    @property
    def num_maps(self) -> int:
        return len(self.classes) + int(self.has_saliency)


def _header_size(num_cams: int, num_boxes: int = 0) -> int:
    return -(-(_FIXED.size + 2 * num_cams + _BOX.itemsize * num_boxes) // ALIGN) * ALIGN


def _head_size(head: bytes) -> int:
    """The header size the fixed part of ``head`` implies (0 when it is too
    short or damaged: :func:`parse_header` says what is wrong)."""
    if len(head) < _FIXED.size:
        return 0
    _, version, flags, _, _, k, _, _, _ = _FIXED.unpack_from(head)
    if k > MAX_MAPS:
        return 0
    return _header_size(k, (k + (flags & FLAG_SALIENCY)) if version == VERSION_COMPRESSED
                        else 0)


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
    if version not in (VERSION, VERSION_COMPRESSED):
        raise WSSSInputError(f'packed map file version {version}; this mmwsss reads versions '
                             f'{VERSION} and {VERSION_COMPRESSED}: repack it with '
                             'tools/pack_maps.py --force', img_id, path)
    compressed = version == VERSION_COMPRESSED
    if flags & ~FLAG_SALIENCY or (reserved if not compressed else reserved not in CODECS):
        raise WSSSInputError(f'packed map header has unknown flags {flags:#x} / '
                             f'{"codec" if compressed else "reserved"} {reserved}', img_id,
                             path)
    if not (0 < h <= MAX_SIDE and 0 < w <= MAX_SIDE) or k > MAX_MAPS:
        raise WSSSInputError(f'packed map header is damaged: {k} CAMs of {w}×{h} (W×H)',
                             img_id, path)
    has_sal = bool(flags & FLAG_SALIENCY)
    n = k + has_sal
    if compressed:
        if offset != _header_size(k, n):
            raise WSSSInputError(f'packed map header is damaged: payload at {offset}, but '
                                 f'{n} maps need it at {_header_size(k, n)}', img_id, path)
    elif offset != _header_size(k) or size != n * h * w:
        raise WSSSInputError(
            f'packed map header is damaged: payload at {offset} of {size} bytes, but '
            f'{k} CAMs{" and a saliency map" if has_sal else ""} of {w}×{h} need '
            f'{n * h * w} bytes at {_header_size(k)}', img_id, path)
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
    codec = boxes = None
    if compressed:
        codec = CODECS[reserved][0]
        if len(head) < _FIXED.size + 2 * k + _BOX.itemsize * n:
            raise WSSSInputError('packed map file is truncated inside its box table', img_id,
                                 path)
        boxes = np.frombuffer(head, _BOX, n, _FIXED.size + 2 * k)
        y0, y1, x0, x1 = (boxes[f].astype(np.int64) for f in ('y0', 'y1', 'x0', 'x1'))
        if (boxes['reserved'] != 0).any() or (y0 > y1).any() or (x0 > x1).any() or \
                (y1 > h).any() or (x1 > w).any():
            i = int(np.flatnonzero((boxes['reserved'] != 0) | (y0 > y1) | (x0 > x1) |
                                   (y1 > h) | (x1 > w))[0])
            raise WSSSInputError(f'packed map header is damaged: map {i} has the box rows '
                                 f'{y0[i]}:{y1[i]}, columns {x0[i]}:{x1[i]} in {w}×{h} (W×H)',
                                 img_id, path)
        raw = int(((y1 - y0) * (x1 - x0)).sum())
        if size > raw + raw // 64 + 4096:  # no codec here grows data by more
            raise WSSSInputError(f'packed map header is damaged: {size} compressed bytes for '
                                 f'{raw} bytes of maps', img_id, path)
        if raw > SPARSE_CHECK_BYTES and raw > MAX_RATIO * size:
            raise WSSSInputError(f'packed map file is damaged: its {size} compressed bytes '
                                 f'would decompress to {raw} (more than {MAX_RATIO}:1, a '
                                 'decompression bomb)', img_id, path)
    classes = tuple(int(c) for c in np.frombuffer(head, '<u2', k, _FIXED.size))
    if any(b <= a for a, b in zip(classes, classes[1:])):
        raise WSSSInputError(f'packed map class ids must be strictly increasing (no '
                             f'repeats), got {list(classes)}', img_id, path)
    if max_class is not None and classes and classes[-1] > max_class:
        bad = [c for c in classes if c > max_class]
        raise WSSSInputError(f'unknown class id(s) {bad} (valid: 0..{max_class})', img_id,
                             path)
    return PackedHeader((h, w), classes, has_sal, offset, size, codec, boxes)


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
            need = _head_size(head)  # more than 14 CAMs, or a box table: the rest
            if need > len(head):
                head += f.read(need - len(head))
            st = os.fstat(f.fileno())
            header = parse_header(head, st.st_size, img_id, path, hw, max_class)
            _check_not_sparse(header, st, img_id, path)
            if header.codec is not None:
                f.seek(header.offset)
                data = f.read(header.size)
                if len(data) != header.size:  # changed meanwhile
                    raise WSSSInputError('packed map file is truncated', img_id, path)
                return header, _decode(header, data, img_id, path)
            maps = np.empty((header.num_maps, ) + header.hw, np.uint8)
            f.seek(header.offset)
            if f.readinto(memoryview(maps).cast('B')) != header.size:  # changed meanwhile
                raise WSSSInputError('packed map file is truncated', img_id, path)
        return header, maps
    data = read_bytes(path, img_id, 'packed map', backend_args)
    header = parse_header(data[:max(_head_size(data), ALIGN)], len(data), img_id, path, hw,
                          max_class)
    if header.codec is not None:
        return header, _decode(header, memoryview(data)[header.offset:], img_id, path)
    maps = np.frombuffer(data, np.uint8, header.size, header.offset)
    return header, maps.reshape((header.num_maps, ) + header.hw)


def _decode(header: PackedHeader, data, img_id, path) -> np.ndarray:
    """The N×H×W maps of a version 2 payload; a stream that is damaged, ends
    early or runs past the boxes' bytes is refused, never half-used."""
    boxes = header.boxes.tolist()  # (fill, 0, y0, y1, x0, x1): Python ints, once
    areas = [(y1 - y0) * (x1 - x0) for _, _, y0, y1, x0, x1 in boxes]
    want = sum(areas)
    d = CODECS[CODEC_IDS[header.codec]][1]()
    try:
        raw = d.decompress(data, want + 1)  # one byte more: a longer stream shows
        ended = d.eof and not d.unused_data
    except (zlib.error, lzma.LZMAError, OSError, EOFError, ValueError, MemoryError) as e:
        raise WSSSInputError(f'packed map file is damaged: its {header.codec} stream does not '
                             f'decompress ({e})', img_id, path) from None
    if len(raw) != want or not ended:
        what = (f'more bytes than the {want}' if len(raw) > want else
                f'{len(raw)} bytes and ends early (truncated), not the {want}' if not d.eof
                else f'{len(raw)} bytes, not the {want}' if len(raw) < want else
                f'its {want} bytes and has trailing bytes after its end, not just the')
        raise WSSSInputError(f'packed map file is damaged: its {header.codec} stream '
                             f'decompresses to {what} its box table declares', img_id, path)
    maps = np.empty((header.num_maps, ) + header.hw, np.uint8)
    pos, size = 0, header.hw[0] * header.hw[1]
    filtered = header.codec in ROW_FILTERED
    for m, (fill, _, y0, y1, x0, x1), n in zip(maps, boxes, areas):
        if n < size:
            m.fill(fill)
        if n:
            rows = np.frombuffer(raw, np.uint8, n, pos).reshape(y1 - y0, x1 - x0)
            if filtered:  # rows as differences from the row above: a cumulative sum
                np.cumsum(rows, axis=0, dtype=np.uint8, out=m[y0:y1, x0:x1])
            else:
                m[y0:y1, x0:x1] = rows
            pos += n
    return maps


def _encode(maps: np.ndarray, codec: str, level: int) -> Tuple[np.ndarray, bytes]:
    """The box table and the compressed stream of N×H×W uint8 maps (see the
    module's docstring)."""
    boxes = np.zeros(len(maps), _BOX)
    parts = []
    for m, box in zip(maps, boxes):
        fill = m.flat[0]
        differ = m != fill
        rows, cols = np.flatnonzero(differ.any(1)), np.flatnonzero(differ.any(0))
        box['fill'] = fill
        if not len(rows):
            continue
        y0, y1, x0, x1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
        box['y0'], box['y1'], box['x0'], box['x1'] = y0, y1, x0, x1
        inner = m[y0:y1, x0:x1]
        if codec in ROW_FILTERED:
            diff = inner.copy()
            np.subtract(inner[1:], inner[:-1], out=diff[1:])  # uint8: wraps mod 256
            parts.append(diff.tobytes())
        else:
            parts.append(inner.tobytes())
    raw = b''.join(parts)
    if codec == 'zlib':
        data = zlib.compress(raw, level)
    elif codec == 'lzma':
        data = lzma.compress(raw, preset=level)
    elif codec == 'lz4':  # the CRC-32 of the block, then the block (_LZ4Decompressor)
        data = _lz4_block().compress(raw, mode='high_compression', compression=level,
                                     store_size=False)
        data = zlib.crc32(data).to_bytes(4, 'little') + data
    else:
        data = bz2.compress(raw, level)
    return boxes, data


def save_packed(path: str, classes: Sequence[int], cams: np.ndarray,
                saliency: Optional[np.ndarray] = None, compress: Optional[str] = None,
                level: Optional[int] = None) -> int:
    """Atomically write a ``.maps`` file.

    Args:
        path (str): ``<cam_dir>/<img_id>.maps``.
        classes (Sequence[int]): K 0-based class ids, any order (written sorted).
        cams (np.ndarray): K×H×W uint8 CAMs (round(255·cam)).
        saliency (np.ndarray, optional): H×W uint8 saliency map.
        compress (str, optional): ``'zlib'``, ``'lzma'``, ``'bz2'`` or
            ``'lz4'``: a version 2 file; None (default): version 1, uncompressed.
        level (int, optional): the codec's level (zlib 0–9, lzma preset 0–9,
            bz2 1–9, lz4 high-compression 1–12); default :data:`DEFAULT_LEVEL`.

    Returns:
        int: the bytes written.
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
    if compress is None:
        head = pack_header(hw, classes[order], saliency is not None)

        def write(f):
            f.write(head)
            if saliency is not None:
                f.write(np.ascontiguousarray(saliency).data)
            f.write(np.ascontiguousarray(cams[order]).data)

        atomic_write(path, write)
        return len(head) + cams.size + (0 if saliency is None else saliency.size)
    check_codec(compress, level)
    level = DEFAULT_LEVEL[compress] if level is None else int(level)
    maps = cams[order] if saliency is None else np.concatenate([saliency[None], cams[order]])
    boxes, data = _encode(maps, compress, level)
    h, w = (int(v) for v in hw)
    k, n = len(classes), len(maps)
    head = _FIXED.pack(MAGIC, VERSION_COMPRESSED, FLAG_SALIENCY if saliency is not None else 0,
                       h, w, k, CODEC_IDS[compress], _header_size(k, n), len(data))
    head += np.asarray(classes[order], '<u2').tobytes() + boxes.tobytes()
    head += bytes(_header_size(k, n) - len(head))
    atomic_write(path, lambda f: (f.write(head), f.write(data)))
    return len(head) + len(data)


def check_codec(compress: Optional[str], level: Optional[int] = None) -> None:
    """Refuse an unknown codec or a level outside its range (ValueError)."""
    if compress is None:
        if level is not None:
            raise ValueError('a compression level needs a codec')
        return
    if compress not in DEFAULT_LEVEL:
        raise ValueError(f'unknown codec {compress!r}: one of {sorted(DEFAULT_LEVEL)}')
    if level is not None and int(level) not in LEVELS[compress]:
        r = LEVELS[compress]
        raise ValueError(f'{compress} level must lie in {r.start}..{r.stop - 1}, got {level}')


def packed_path(cam_dir: str, img_id: str) -> str:
    """``<cam_dir>/<img_id>.maps``."""
    return osp.join(cam_dir, img_id + SUFFIX)
