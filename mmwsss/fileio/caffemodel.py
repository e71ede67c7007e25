"""Read the weights of a Caffe ``.caffemodel`` with numpy only (no Caffe, no protobuf).

A caffemodel is a serialised ``NetParameter`` message (protobuf wire format):
each field is a varint key ``field_number << 3 | wire_type`` followed by a
varint (type 0), 8 bytes (1), a varint length and that many bytes (2) or 4
bytes (5). The fields read here (``caffe.proto``):

- ``NetParameter.layer`` (100): ``LayerParameter`` messages; the old
  ``layers`` (2, ``V1LayerParameter``) are refused with a pointer to Caffe's
  upgrade tool;
- ``LayerParameter``: ``name`` (1), ``type`` (2), ``blobs`` (7);
- ``BlobProto``: ``shape`` (7, ``BlobShape`` with packed int64 ``dim`` = 1),
  the legacy 4-D ``num``/``channels``/``height``/``width`` (1-4), ``data``
  (5, packed float32) and ``double_data`` (8, packed float64).

Every length is checked against what is left of the file before it is read,
and each blob's element count against its shape before it is decoded.
"""
from dataclasses import dataclass
from typing import Iterator, List, Tuple

import numpy as np

_NET_LAYER, _NET_V1_LAYERS = 100, 2
_LAYER_NAME, _LAYER_TYPE, _LAYER_BLOBS = 1, 2, 7
_BLOB_LEGACY = {1: 0, 2: 1, 3: 2, 4: 3}  # num, channels, height, width
_BLOB_DATA, _BLOB_SHAPE, _BLOB_DOUBLE_DATA = 5, 7, 8


@dataclass
class CaffeLayer:
    """One layer of a caffemodel: its name, type (``'Convolution'``,
    ``'BatchNorm'``, ``'Scale'``...) and its weight blobs as numpy arrays."""
    name: str
    type: str
    blobs: List[np.ndarray]


class _Message:
    """The fields of one message, read lazily from a slice of the file."""

    def __init__(self, data: memoryview, path: str, what: str):
        self.data, self.path, self.what = data, path, what

    def _varint(self, pos: int) -> Tuple[int, int]:
        value = shift = 0
        while True:
            if pos >= len(self.data):
                raise ValueError(f'{self.path}: truncated caffemodel (a number in a '
                                 f'{self.what} runs past its end)')
            byte = self.data[pos]
            value |= (byte & 0x7F) << shift
            pos += 1
            if byte < 0x80:
                return value, pos
            shift += 7
            if shift > 63:
                raise ValueError(f'{self.path}: damaged caffemodel (a number of more than '
                                 f'64 bits in a {self.what})')

    def fields(self) -> Iterator[Tuple[int, int, object]]:
        """``(field number, wire type, value)``: an int for types 0, 1 and 5 (the
        raw bits), a memoryview for type 2."""
        pos = 0
        while pos < len(self.data):
            key, pos = self._varint(pos)
            number, wire = key >> 3, key & 7
            if wire == 0:
                value, pos = self._varint(pos)
            elif wire in (1, 5):
                size = 8 if wire == 1 else 4
                if pos + size > len(self.data):
                    raise ValueError(f'{self.path}: truncated caffemodel (in a {self.what})')
                value = int.from_bytes(self.data[pos:pos + size], 'little')
                pos += size
            elif wire == 2:
                size, pos = self._varint(pos)
                if pos + size > len(self.data):
                    raise ValueError(f'{self.path}: truncated caffemodel (field {number} of a '
                                     f'{self.what} needs {size} bytes, '
                                     f'{len(self.data) - pos} left)')
                value = self.data[pos:pos + size]
                pos += size
            else:  # 3/4 (groups) are not in caffe.proto; 6/7 do not exist
                raise ValueError(f'{self.path}: not a caffemodel (wire type {wire} in a '
                                 f'{self.what})')
            yield number, wire, value


def _floats(value, wire: int, dtype, path: str) -> np.ndarray:
    """A packed (type 2) or single (type 5/1) run of floats."""
    if wire == 2:
        if len(value) % np.dtype(dtype).itemsize:
            raise ValueError(f'{path}: damaged caffemodel (a packed {np.dtype(dtype).name} '
                             f'run of {len(value)} bytes)')
        return np.frombuffer(value, dtype)
    raw = value.to_bytes(np.dtype(dtype).itemsize, 'little')
    return np.frombuffer(raw, dtype)


def _blob(data: memoryview, path: str, where: str) -> np.ndarray:
    legacy, shape, runs = [1, 1, 1, 1], None, []
    for number, wire, value in _Message(data, path, f'blob of {where}').fields():
        if number in _BLOB_LEGACY and wire == 0:
            legacy[_BLOB_LEGACY[number]] = value
        elif number == _BLOB_SHAPE and wire == 2:
            shape = []
            for n, w, v in _Message(value, path, f'blob shape of {where}').fields():
                if n != 1:
                    continue
                if w == 2:  # packed
                    m = _Message(v, path, f'blob shape of {where}')
                    pos = 0
                    while pos < len(v):
                        dim, pos = m._varint(pos)
                        shape.append(dim)
                elif w == 0:
                    shape.append(v)
        elif number == _BLOB_DATA and wire in (2, 5):
            runs.append(_floats(value, wire, '<f4', path))
        elif number == _BLOB_DOUBLE_DATA and wire in (1, 2):
            runs.append(_floats(value, wire, '<f8', path))
    shape = tuple(shape) if shape is not None else tuple(legacy)
    count = sum(len(r) for r in runs)
    if count != int(np.prod(shape, dtype=np.int64)):
        raise ValueError(f'{path}: a blob of layer {where!r} holds {count} values for shape '
                         f'{list(shape)}')
    flat = runs[0] if len(runs) == 1 else np.concatenate(runs) if runs else np.zeros(0)
    return flat.astype(np.float32).reshape(shape)


def read_caffemodel(path: str) -> List[CaffeLayer]:
    """The layers of a ``.caffemodel`` with their weight blobs, in file order.

    Args:
        path (str): the file.

    Returns:
        list[CaffeLayer]: every layer of the net (layers without weights too).

    Raises:
        ValueError: a truncated or damaged file, an old V1 net, a blob whose
            values do not fill its shape; naming the file.
    """
    with open(path, 'rb') as f:
        data = memoryview(f.read())
    if not len(data):
        raise ValueError(f'{path}: empty file')
    layers, v1 = [], 0
    for number, wire, value in _Message(data, path, 'net').fields():
        if number == _NET_V1_LAYERS and wire == 2:
            v1 += 1
        if number != _NET_LAYER or wire != 2:
            continue
        name, kind, blobs = '', '', []
        for n, w, v in _Message(value, path, 'layer').fields():
            if n == _LAYER_NAME and w == 2:
                name = bytes(v).decode('utf-8', 'replace')
            elif n == _LAYER_TYPE and w == 2:
                kind = bytes(v).decode('utf-8', 'replace')
            elif n == _LAYER_BLOBS and w == 2:
                blobs.append(v)
        layers.append(CaffeLayer(name, kind, [_blob(b, path, name) for b in blobs]))
    if not layers:
        hint = (' (an old V1 net: convert it with Caffe\'s upgrade_net_proto_binary first)'
                if v1 else '')
        raise ValueError(f'{path}: no layers found: not a caffemodel{hint}')
    return layers

