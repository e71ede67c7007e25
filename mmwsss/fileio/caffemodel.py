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
and each blob's element count against its shape before it is decoded. Memory stays
within a small multiple of the file's size: a blob's values are decoded into one array
of its declared size, and a file of more layers and blobs than its bytes could hold in
a real net (``_BYTES_PER_OBJECT``) is refused.
"""
import math
import struct
from dataclasses import dataclass
from typing import Iterator, List, Tuple

import numpy as np

_NET_LAYER, _NET_V1_LAYERS = 100, 2
_LAYER_NAME, _LAYER_TYPE, _LAYER_BLOBS = 1, 2, 7
_BLOB_LEGACY = {1: 0, 2: 1, 3: 2, 4: 3}  # num, channels, height, width
_BLOB_DATA, _BLOB_SHAPE, _BLOB_DOUBLE_DATA = 5, 7, 8
_MAX_AXES = 32  # Caffe's kMaxBlobAxes
# a net's layers and blobs: this many, plus one per this many bytes of the file. A real
# caffemodel holds a few thousand at most (ResNet-101: about 1,500 in 170 MB); each costs
# a Python object, so that a file of empty layers or one-value blobs cannot take far more
# memory than its size.
_OBJECTS_FREE, _BYTES_PER_OBJECT = 10_000, 256


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


def _run_length(value, wire: int, itemsize: int, path: str) -> int:
    """How many floats a packed (type 2) or single (type 5/1) run holds."""
    if wire != 2:
        return 1
    if len(value) % itemsize:
        raise ValueError(f'{path}: damaged caffemodel (a packed float{8 * itemsize} run of '
                         f'{len(value)} bytes)')
    return len(value) // itemsize


def _blob(data: memoryview, path: str, where: str) -> np.ndarray:
    """One ``BlobProto`` as a float32 array. Two passes, so that memory stays within
    the blob's own size: the first reads the shape and counts the values, checked
    against each other; the second decodes the values into the array of that size
    (a blob of many single-float fields costs no object per value)."""
    message = _Message(data, path, f'blob of {where}')
    legacy, shape, count = [1, 1, 1, 1], None, 0
    for number, wire, value in message.fields():
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
                    while pos < len(v) and len(shape) <= _MAX_AXES:
                        dim, pos = m._varint(pos)
                        shape.append(dim)
                elif w == 0:
                    shape.append(v)
                if len(shape) > _MAX_AXES:
                    raise ValueError(f'{path}: damaged caffemodel (a blob of layer {where!r} '
                                     f'has more than {_MAX_AXES} axes, Caffe\'s limit)')
        elif number == _BLOB_DATA and wire in (2, 5):
            count += _run_length(value, wire, 4, path)
        elif number == _BLOB_DOUBLE_DATA and wire in (1, 2):
            count += _run_length(value, wire, 8, path)
    shape = tuple(shape) if shape is not None else tuple(legacy)
    if count != math.prod(shape):
        raise ValueError(f'{path}: a blob of layer {where!r} holds {count} values for shape '
                         f'{list(shape)}')
    out, pos = np.empty(count, np.float32), 0
    for number, wire, value in message.fields():
        if number == _BLOB_DATA and wire in (2, 5) or \
                number == _BLOB_DOUBLE_DATA and wire in (1, 2):
            single = number == _BLOB_DATA
            if wire == 2:
                run = np.frombuffer(value, '<f4' if single else '<f8')
                out[pos:pos + len(run)] = run
                pos += len(run)
            else:  # one value, its raw bits
                out[pos] = struct.unpack('<f' if single else '<d',
                                         value.to_bytes(4 if single else 8, 'little'))[0]
                pos += 1
    return out.reshape(shape)


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
    objects, most = 0, _OBJECTS_FREE + len(data) // _BYTES_PER_OBJECT
    for number, wire, value in _Message(data, path, 'net').fields():
        if number == _NET_V1_LAYERS and wire == 2:
            v1 += 1
        if number != _NET_LAYER or wire != 2:
            continue
        message, name, kind, blobs = _Message(value, path, 'layer'), '', '', []
        for n, w, v in message.fields():  # the name first: it may follow the blobs
            if n == _LAYER_NAME and w == 2:
                name = bytes(v).decode('utf-8', 'replace')
            elif n == _LAYER_TYPE and w == 2:
                kind = bytes(v).decode('utf-8', 'replace')
            elif n == _LAYER_BLOBS and w == 2:
                objects += 1
        objects += 1
        if objects > most:
            raise ValueError(f'{path}: damaged caffemodel (more than {most} layers and blobs '
                             f'in {len(data)} bytes, far more than a net of that size holds)')
        for n, w, v in message.fields():
            if n == _LAYER_BLOBS and w == 2:
                blobs.append(_blob(v, path, name))
        layers.append(CaffeLayer(name, kind, blobs))
    if not layers:
        hint = (' (an old V1 net: convert it with Caffe\'s upgrade_net_proto_binary first)'
                if v1 else '')
        raise ValueError(f'{path}: no layers found: not a caffemodel{hint}')
    return layers

