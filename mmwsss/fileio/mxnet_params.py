"""Read MXNet ``.params`` files (saved NDArray lists) with numpy only.

The layout (MXNet ``src/ndarray/ndarray.cc``, little-endian): uint64 list
magic ``0x112``, uint64 reserved, uint64 count, that many NDArrays, uint64
count, that many names (uint64 length + bytes). An NDArray is a uint32 magic
(V2/V3: then an int32 storage type, 0 = dense), its shape (uint32 ndim, then
int64 dims; before V1 the first uint32 *is* ndim and the dims are uint32),
an int32 device type and id, an int32 dtype flag, and the raw data.
"""
import struct
from typing import Dict

import numpy as np

_LIST_MAGIC = 0x112
_V1, _V2, _V3 = 0xF993FAC8, 0xF993FAC9, 0xF993FACA
_DTYPES = {0: np.float32, 1: np.float64, 2: np.float16, 3: np.uint8, 4: np.int32, 5: np.int8,
           6: np.int64}


class _Reader:

    def __init__(self, data: bytes, path: str):
        self.data, self.pos, self.path = memoryview(data), 0, path

    def take(self, n: int) -> memoryview:
        if self.pos + n > len(self.data):
            raise ValueError(f'{self.path}: truncated MXNet params file (needs {n} bytes at '
                             f'offset {self.pos}, {len(self.data) - self.pos} left)')
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def unpack(self, fmt: str):
        return struct.unpack('<' + fmt, self.take(struct.calcsize('<' + fmt)))

    def ndarray(self) -> np.ndarray:
        (magic, ) = self.unpack('I')
        if magic in (_V2, _V3):
            (stype, ) = self.unpack('i')
            if stype != 0:
                raise ValueError(f'{self.path}: sparse NDArray (storage type {stype}) at offset '
                                 f'{self.pos}: only dense arrays are supported')
        if magic in (_V1, _V2, _V3):
            (ndim, ) = self.unpack('i')
            shape = self.unpack(f'{ndim}q') if ndim > 0 else ()
        else:  # legacy: the magic is the ndim, dims are uint32
            ndim = magic
            if ndim > 32:
                raise ValueError(f'{self.path}: not an NDArray at offset {self.pos - 4} '
                                 f'(magic {magic:#x})')
            shape = self.unpack(f'{ndim}I')
        if ndim <= 0:
            return np.zeros((0, ), np.float32)
        if any(d < 0 for d in shape):
            raise ValueError(f'{self.path}: NDArray with unknown shape {shape}')
        self.unpack('ii')  # device type and id
        (flag, ) = self.unpack('i')
        if flag not in _DTYPES:
            raise ValueError(f'{self.path}: unknown NDArray dtype flag {flag}')
        dtype = np.dtype(_DTYPES[flag]).newbyteorder('<')
        count = int(np.prod(shape))
        return np.frombuffer(self.take(count * dtype.itemsize), dtype).reshape(shape).copy()


def load_mxnet_params(path: str) -> Dict[str, np.ndarray]:
    """Name → array of an MXNet ``.params`` file, ``arg:`` / ``aux:`` prefixes
    removed (as ``mx.nd.load`` then ``Module.load_params`` see them).

    Raises:
        ValueError: not an MXNet NDArray list, truncated, sparse or unnamed
            arrays; naming the file.
    """
    with open(path, 'rb') as f:
        r = _Reader(f.read(), path)
    magic, _ = r.unpack('QQ')
    if magic != _LIST_MAGIC:
        raise ValueError(f'{path}: not an MXNet .params file (header {magic:#x}, expected '
                         f'{_LIST_MAGIC:#x})')
    (n, ) = r.unpack('Q')
    arrays = [r.ndarray() for _ in range(n)]
    (n_names, ) = r.unpack('Q')
    if n_names != n:
        raise ValueError(f'{path}: {n} arrays but {n_names} names')
    raw_names, names = [], []
    for _ in range(n_names):
        (length, ) = r.unpack('Q')
        name = bytes(r.take(length)).decode()
        raw_names.append(name)
        names.append(name.split(':', 1)[1] if name.startswith(('arg:', 'aux:')) else name)
    seen = {}
    for raw, name in zip(raw_names, names):
        if name in seen:
            raise ValueError(f'{path}: the parameter name {name!r} appears twice '
                             f'({seen[name]!r} and {raw!r})')
        seen[name] = raw
    return dict(zip(names, arrays))
