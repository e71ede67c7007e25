"""CAM stores: read ``bed_png``, ``npz`` and ``npy_dict``; write ``npz``.

A CAM is one float map in [0, 1] per labelled class at the image's full
resolution. The readers return ``(cams, classes)`` with ``cams`` a K×H×W
array (uint8 for ``bed_png`` / uint8 ``npz``, float otherwise) and ``classes``
the K 0-based class ids.
"""
import glob
import io
import os.path as osp
import re
from typing import List, Optional, Sequence, Tuple

import numpy as np

from .errors import WSSSInputError
from .fileio import atomic_write, read_gray_png, save_label_png
from .pseudo_label import UINT8_TO_UNIT

CAM_FORMATS = ('bed_png', 'npz', 'npy_dict')


def cam_path(cam_dir: str, img_id: str, cam_format: str, cls: Optional[int] = None) -> str:
    """The file of an image's CAMs (of one class for ``bed_png``)."""
    if cam_format == 'bed_png':
        return osp.join(cam_dir, f'{img_id}_{cls}.png')
    if cam_format == 'npz':
        return osp.join(cam_dir, f'{img_id}.npz')
    if cam_format == 'npy_dict':
        return osp.join(cam_dir, f'{img_id}.npy')
    raise ValueError(f'cam_format must be one of {CAM_FORMATS}, got {cam_format!r}')


def _bed_png_classes(cam_dir: str, img_id: str) -> List[int]:
    pat = re.compile(re.escape(img_id) + r'_(\d+)\.png$')
    found = []
    for p in glob.glob(osp.join(glob.escape(cam_dir), glob.escape(img_id) + '_*.png')):
        m = pat.match(osp.basename(p))
        if m:
            found.append(int(m.group(1)))
    return sorted(found)


def _load_npz(path: str, img_id: str):
    if not osp.isfile(path):
        raise WSSSInputError('CAM file not found', img_id, path)
    try:
        # allow_pickle=False: an npz store never runs code when read.
        with np.load(path, allow_pickle=False) as z:
            keys, cams = z['keys'], z['cams']
    except KeyError as e:
        raise WSSSInputError(f"npz CAM file needs arrays 'keys' and 'cams' ({e})", img_id,
                             path) from e
    except ValueError as e:
        raise WSSSInputError(f'npz CAM file holds pickled objects or is damaged ({e})',
                             img_id, path) from e
    except Exception as e:  # zipfile.BadZipFile, OSError, EOFError...
        raise WSSSInputError(f'unreadable npz CAM file ({e})', img_id, path) from e
    if cams.ndim != 3 or keys.ndim != 1 or len(keys) != len(cams):
        raise WSSSInputError(
            f"npz CAM file needs 'keys' (K,) and 'cams' (K×H×W), got {keys.shape} and "
            f'{cams.shape}', img_id, path)
    if cams.dtype not in (np.uint8, np.float16, np.float32):
        raise WSSSInputError(f'npz CAMs must be uint8 or float16, got {cams.dtype}', img_id,
                             path)
    return [int(k) for k in keys], cams


def _load_npy_dict(path: str, img_id: str, allow_pickle: bool):
    if not allow_pickle:
        raise WSSSInputError(
            "'npy_dict' CAM files are pickles and loading them can run code: set "
            'allow_pickle=True only for files you trust', img_id, path)
    if not osp.isfile(path):
        raise WSSSInputError('CAM file not found', img_id, path)
    try:
        d = np.load(path, allow_pickle=True).item()
    except Exception as e:
        raise WSSSInputError(f'unreadable npy_dict CAM file ({e})', img_id, path) from e
    if not isinstance(d, dict):
        raise WSSSInputError(f'npy_dict CAM file holds a {type(d).__name__}, not a dict',
                             img_id, path)
    if 'keys' in d and 'high_res' in d:  # IRN: keys are 0-based class ids
        keys, cams = [int(k) for k in np.asarray(d['keys']).reshape(-1)], d['high_res']
        cams = np.asarray(cams)
        if len(cams) == len(keys) + 1:  # IRN may store a background channel first
            cams = cams[1:]
    else:  # EPS: {class id: H×W}
        keys = sorted(int(k) for k in d)
        cams = np.stack([np.asarray(d[k]) for k in sorted(d, key=int)]) if d else None
    if cams is None or cams.ndim != 3 or len(cams) != len(keys):
        raise WSSSInputError('npy_dict CAM file holds no K×H×W CAMs', img_id, path)
    return keys, cams


def load_cams(cam_dir: str,
              img_id: str,
              classes: Optional[Sequence[int]] = None,
              cam_format: str = 'bed_png',
              allow_pickle: bool = False) -> Tuple[np.ndarray, List[int]]:
    """Read the CAMs of one image.

    Args:
        cam_dir (str): the store's folder.
        img_id (str): image id (file stem of the image).
        classes (Sequence[int], optional): the labelled classes (0-based). When
            given, exactly these are returned and each must have a CAM; when
            None, all the classes the store holds for the image.
        cam_format (str): ``'bed_png'``, ``'npz'`` or ``'npy_dict'``.
        allow_pickle (bool): needed for ``npy_dict`` (pickles run code).

    Returns:
        tuple[np.ndarray, list[int]]: K×H×W CAMs (uint8 or float) and their
        class ids.
    """
    if cam_format == 'bed_png':
        if classes is None:
            classes = _bed_png_classes(cam_dir, img_id)
            if not classes:
                raise WSSSInputError(
                    f'no CAM file {img_id}_<class>.png in the CAM folder', img_id, cam_dir)
        cams = [read_gray_png(cam_path(cam_dir, img_id, 'bed_png', c), img_id, 'CAM')
                for c in classes]
        shapes = {c.shape for c in cams}
        if len(shapes) > 1:
            raise WSSSInputError(f'CAM PNGs of different sizes {sorted(shapes)}', img_id,
                                 cam_dir)
        return np.stack(cams), list(int(c) for c in classes)

    path = cam_path(cam_dir, img_id, cam_format)
    if cam_format == 'npz':
        keys, cams = _load_npz(path, img_id)
    else:
        keys, cams = _load_npy_dict(path, img_id, allow_pickle)
    if classes is None:
        return cams, keys
    pos = {k: i for i, k in enumerate(keys)}
    missing = [int(c) for c in classes if int(c) not in pos]
    if missing:
        raise WSSSInputError(
            f'labelled class(es) {missing} have no CAM (the file holds {sorted(keys)})',
            img_id, path)
    return cams[[pos[int(c)] for c in classes]], [int(c) for c in classes]


def cams_to_unit(cams: np.ndarray, img_id=None, path=None) -> np.ndarray:
    """CAMs as float32 in [0, 1]: uint8 maps are value / 255 (as WSSS-BED reads
    its PNGs); float maps are checked for NaN and for values outside [0, 1]."""
    if cams.dtype == np.uint8:
        return UINT8_TO_UNIT[cams]
    cams = cams.astype(np.float32, copy=False)
    lo, hi = float(cams.min(initial=0.0)), float(cams.max(initial=0.0))
    if np.isnan(lo) or np.isnan(hi):
        raise WSSSInputError('CAM holds NaN values', img_id, path)
    if lo < 0 or hi > 1:
        raise WSSSInputError(f'CAM values must lie in [0, 1], found [{lo:.4g}, {hi:.4g}]',
                             img_id, path)
    return cams


def save_cams_npz(path: str, keys: Sequence[int], cams: np.ndarray,
                  dtype: str = 'uint8') -> None:
    """Atomically write an ``npz`` CAM store file (never pickled).

    Args:
        path (str): ``<cam_dir>/<img_id>.npz``.
        keys (Sequence[int]): K 0-based class ids.
        cams (np.ndarray): K×H×W float CAMs in [0, 1].
        dtype (str): ``'uint8'`` (round(255·cam), as ``bed_png``) or ``'float16'``.
    """
    cams = np.asarray(cams, dtype=np.float32)
    keys = np.asarray(keys, dtype=np.int64).reshape(-1)
    if cams.ndim != 3 or len(keys) != len(cams):
        raise ValueError(f'need K keys and K×H×W cams, got {keys.shape} and {cams.shape}')
    if dtype == 'uint8':
        cams = np.round(np.clip(cams, 0, 1) * 255).astype(np.uint8)
    elif dtype == 'float16':
        cams = np.clip(cams, 0, 1).astype(np.float16)
    else:
        raise ValueError(f"dtype must be 'uint8' or 'float16', got {dtype!r}")
    buf = io.BytesIO()
    np.savez_compressed(buf, keys=keys, cams=cams)
    atomic_write(path, lambda f: f.write(buf.getvalue()))


def save_cams_bed_png(cam_dir: str, img_id: str, keys: Sequence[int], cams: np.ndarray) -> None:
    """Atomically write WSSS-BED style ``<img_id>_<c>.png`` CAMs (uint8 round(255·cam))."""
    cams = np.round(np.clip(np.asarray(cams, dtype=np.float32), 0, 1) * 255).astype(np.uint8)
    for k, cam in zip(keys, cams):
        save_label_png(cam_path(cam_dir, img_id, 'bed_png', int(k)), cam)
