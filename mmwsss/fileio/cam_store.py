"""CAM stores: read ``bed_png``, ``npz``, ``npy_dict`` and ``packed``; write
``npz``, ``bed_png`` and ``packed`` (:func:`save_image_pack`, the one packing
step of ``tools/pack_maps.py`` and ``tools/make_cams.py``).

A CAM is one float map in [0, 1] per labelled class at the image's full
resolution. An image's files are named from a *stem*, ``<cam_dir>/<img_id>``:
``<stem>_<c>.png`` (``bed_png``), ``<stem>.npz``, ``<stem>.npy`` or
``<stem>.maps`` (``packed``: the uint8 CAMs and the saliency map in one file,
uncompressed or compressed, :mod:`mmwsss.fileio.packed_maps`).
"""
import glob
import io
import os
import os.path as osp
import re
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import mmengine.fileio as fileio
import numpy as np

from mmwsss.errors import WSSSConfigError, WSSSInputError, check_arg
from mmwsss.functional.pseudo_label import UINT8_TO_UNIT
from .packed_maps import SUFFIX as PACKED_SUFFIX
from .packed_maps import Codec, read_packed, save_packed
from .png import (atomic_write, check_header_hw, is_local, read_bytes, read_gray_png,
                  read_saliency, save_label_png)

CAM_FORMATS = ('bed_png', 'npz', 'npy_dict', 'packed')
MAX_CAMS_PER_IMAGE = 1000  # COCO has 80 classes; more is a damaged or foreign file
_SUFFIX = dict(npz='.npz', npy_dict='.npy', packed=PACKED_SUFFIX)
MAX_PADDED_DIGITS = 4  # ``_0014.png``: zero-padded twins of a bed_png class file probed


def _refuse_repeated_png(cls: int, paths: Sequence[str], img_id: str) -> None:
    paths = sorted(paths)
    raise WSSSInputError(
        f'class id {cls} has {len(paths)} bed_png CAM files ({", ".join(map(repr, paths))}); '
        'keep one', img_id, paths[0])


def _refuse_padded_png(cls: int, plain: str, padded: str, img_id: str) -> None:
    raise WSSSInputError(
        f'CAM file not found; {osp.basename(padded)} is there, a zero-padded name: the '
        f'bed_png CAM of class {cls} is named {osp.basename(plain)} (rename it)', img_id, plain)


def check_cam_format(cam_format) -> None:
    """Raises ValueError naming ``cam_format`` and the formats, unless it is one."""
    check_arg('cam_format', cam_format in CAM_FORMATS, f'one of {CAM_FORMATS}', cam_format,
              CAM_FORMATS)


def cam_path(cam_dir: str, img_id: str, cam_format: str, cls: Optional[int] = None) -> str:
    """The file of an image's CAMs (of one class for ``bed_png``)."""
    check_cam_format(cam_format)
    stem = osp.join(cam_dir, img_id)
    return f'{stem}_{cls}.png' if cam_format == 'bed_png' else stem + _SUFFIX[cam_format]


def read_store_record(cam_dir: str) -> Optional[dict]:
    """The settings a tool recorded in ``<cam_dir>/meta.json`` when it wrote the
    store (``tools/make_cams.py``, ``tools/pack_maps.py``: ``cam_format``, and
    for a pack its ``sal_dir``); None when there is no record (WSSS-BED's
    released maps have none).

    Raises:
        WSSSInputError: a record that is not the JSON object these tools write.
    """
    path = osp.join(cam_dir, 'meta.json')
    if not osp.isfile(path):
        return None
    import json
    try:
        with open(path, encoding='utf-8') as f:
            meta = json.load(f)
    except (ValueError, UnicodeDecodeError) as e:
        raise WSSSInputError(f'not valid JSON ({e}); give --cam-format', path=path) from None
    settings = meta.get('settings') if isinstance(meta, dict) else None
    if not isinstance(meta, dict) or not isinstance(settings, (dict, type(None))):
        raise WSSSInputError('a damaged CAM store record: not the object of settings '
                             'tools/make_cams.py writes; give --cam-format', path=path)
    settings = dict(settings or {})
    settings.setdefault('cam_format', meta.get('cam_format'))
    fmt = settings['cam_format']
    if fmt is not None and fmt not in CAM_FORMATS:
        raise WSSSInputError(f'a damaged CAM store record: cam_format must be one of '
                             f'{list(CAM_FORMATS)}, got {fmt!r}', path=path)
    return settings


def check_store_format(cam_dir: str, cam_format: str) -> None:
    """Refuse a local store folder that holds no file of the format it is read
    as (a store read as another tool's default), naming the ``--cam-format``
    its files suggest, before a first image fails or every image is listed as
    missing.

    Raises:
        WSSSInputError: naming the folder, the format and the option.
    """
    check_cam_format(cam_format)
    suffix = dict(bed_png='.png', **_SUFFIX)
    try:
        names = os.listdir(cam_dir)
    except OSError:
        raise WSSSInputError('CAM store (--cam-dir) not found', path=cam_dir) from None
    if any(n.endswith(suffix[cam_format]) for n in names):
        return
    found = [f for f, sfx in suffix.items() if any(n.endswith(sfx) for n in names)]
    hint = f': it holds {suffix[found[0]]} files, give --cam-format {found[0]}' if found else \
        f' (give --cam-format, one of {", ".join(CAM_FORMATS)})'
    raise WSSSInputError(f'no {cam_format} CAM file (*{suffix[cam_format]}) in the CAM store, '
                         f'read as --cam-format {cam_format}{hint}', path=cam_dir)


def pack_saliency_problem(cam_dir: str, mode: str = 'saliency') -> Optional[str]:
    """Whether a ``packed`` store can give the saliency maps ``mode`` needs,
    decided here for training's start-up check and every tool: a pack's
    saliency maps are the ones its files hold (never a saliency folder's), and
    one whose ``meta.json`` records that it was packed without ``--sal-dir``
    holds none.

    Returns:
        str | None: what is wrong and how to fix it; None when nothing is
        (``no_saliency`` mode, or a pack with saliency maps or no record).

    Raises:
        WSSSInputError: a damaged ``meta.json`` (:func:`read_store_record`).
    """
    if mode == 'no_saliency':
        return None
    settings = read_store_record(cam_dir) or {}
    if 'sal_dir' in settings and not settings['sal_dir']:
        how = ('tools/make_cams.py --cam-format packed --sal-dir --force'
               if 'checkpoint' in settings else 'tools/pack_maps.py --sal-dir')
        return (f'the packed store {cam_dir} holds no saliency maps (packed without '
                f"--sal-dir) but mode is '{mode}': repack it with {how}, or use mode "
                "'no_saliency'")
    return None


def source_files(store: 'CAMStore', img_id: str, classes: Optional[Sequence[int]] = None,
                 sal_path: Optional[str] = None) -> List[str]:
    """The files a pack of the image is made from: its CAM file(s) in ``store``
    (a ``bed_png`` image's every ``<img_id>_<c>.png`` when ``classes`` is None)
    and its saliency PNG."""
    if store.cam_format == 'bed_png' and classes is None:
        folder, name = osp.split(store.stem(img_id))
        pattern = re.compile(re.escape(name) + r'_\d+\.png$')
        files = sorted(p for p in glob.glob(osp.join(glob.escape(folder),
                                                     glob.escape(name) + '_*.png'))
                       if pattern.match(osp.basename(p)))
    else:
        files = store.paths(img_id, classes or ())
    return files + ([sal_path] if sal_path is not None else [])


def files_signature(paths: Sequence[str]) -> List[list]:
    """``[path, size, mtime_ns]`` of each file (None, None when it is missing):
    a source rewritten since it was recorded no longer matches."""
    sig = []
    for p in paths:
        try:
            st = os.stat(p)
            sig.append([osp.abspath(p), st.st_size, st.st_mtime_ns])
        except OSError:
            sig.append([osp.abspath(p), None, None])
    return sig


def stale_packs(cam_dir: str, ids: Optional[Sequence[str]] = None) -> List[str]:
    """The listed images (all the recorded ones when ``ids`` is None) whose
    pack is stale: a source file recorded in ``<cam_dir>/meta.json``
    (``sources``, :func:`files_signature`, written by ``tools/pack_maps.py``)
    has changed or gone since it was packed, or none is recorded for it. A
    pack without that record (an older pack_maps) is not judged: [].

    Returns:
        list[str]: ``'<img_id> (<file> changed)'``, one per stale image.
    """
    path = osp.join(cam_dir, 'meta.json')
    if not osp.isfile(path):
        return []
    import json
    try:
        with open(path, encoding='utf-8') as f:
            sources = json.load(f).get('sources')
    except (ValueError, UnicodeDecodeError, AttributeError):
        return []  # read_store_record names a damaged record
    if not isinstance(sources, dict):
        return []
    stale = []
    for img_id in (sources if ids is None else ids):
        recorded = sources.get(img_id)
        if not isinstance(recorded, list):
            stale.append(f'{img_id} (not recorded in meta.json)')
            continue
        now = files_signature([r[0] for r in recorded])
        changed = [r[0] for r, n in zip(recorded, now) if list(r) != n]
        if changed:
            stale.append(f'{img_id} ({changed[0]} changed since it was packed)')
    return stale


def recorded_cam_format(cam_dir: str) -> Optional[str]:
    """The ``cam_format`` recorded in ``<cam_dir>/meta.json``, if any
    (:func:`read_store_record`)."""
    return (read_store_record(cam_dir) or {}).get('cam_format')


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
        raise WSSSInputError(f'CAM values must lie in [0, 1], found [{lo!r}, {hi!r}]',
                             img_id, path)
    return cams


def _npz_member_header(z, name: str) -> Optional[Tuple[tuple, np.dtype]]:
    """The shape and dtype in the header of ``name.npy`` inside an open npz
    (None when it is absent or not a plain array); reads a few bytes, decodes
    nothing."""
    if f'{name}.npy' not in z.zip.namelist():
        return None
    with z.zip.open(f'{name}.npy') as f:
        try:
            version = np.lib.format.read_magic(f)
            read = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
                np.lib.format.read_array_header_2_0
            shape, _, dtype = read(f)
        except ValueError:
            return None
    return shape, dtype


def _npz_member_shape(z, name: str) -> Optional[tuple]:
    """The shape in the header of ``name.npy`` inside an open npz (None when it
    is absent or not a plain array); reads a few bytes, decodes nothing."""
    header = _npz_member_header(z, name)
    return None if header is None else header[0]


def _int_class_id(key, img_id, path) -> int:
    """A class id as stored: an integer (numpy's too) or a string of digits (EPS
    dicts saved from JSON); a float or any other key is refused, never truncated."""
    if isinstance(key, (int, np.integer)) and not isinstance(key, (bool, np.bool_)):
        return int(key)
    if isinstance(key, str) and key.strip().lstrip('-').isdigit():
        return int(key)
    raise WSSSInputError(f'class id {key!r} ({type(key).__name__}) is not an integer', img_id,
                         path)


def _read_npz_member(z, name: str, check) -> np.ndarray:
    """``name.npy`` of an open npz, its header parsed once: ``check(shape, dtype)``
    runs before the data is decoded, which is then read into the array from the
    same stream (``np.load``'s ``z[name]`` would parse the header again)."""
    with z.zip.open(f'{name}.npy') as f:
        version = np.lib.format.read_magic(f)
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
            np.lib.format.read_array_header_2_0
        shape, fortran, dtype = read(f)
        check(shape, dtype)
        arr = np.empty(shape[::-1] if fortran else shape, dtype)
        n = arr.nbytes
        if f.readinto(memoryview(arr).cast('B')) != n or f.read(1):  # EOF: zip CRC checked
            raise ValueError(f"'{name}' holds {'less' if f.tell() < n else 'more'} data than "
                             f'its header says ({dtype} {shape})')
    return arr.T if fortran else arr


@dataclass(frozen=True)
class CAMStore:
    """A folder of CAMs: where they are, how they are stored, and whether
    pickles may be read.

    Args:
        cam_dir (str, optional): the store's folder. None when every caller
            passes the image's file stem (e.g. from a dataset's ``cam_path``).
        cam_format (str): ``'bed_png'``, ``'npz'``, ``'npy_dict'`` or
            ``'packed'`` (which holds the saliency maps too: :meth:`load_maps`).
        allow_pickle (bool): needed for ``npy_dict`` (loading pickles runs code).
        backend_args (dict, optional): ``mmengine.fileio`` backend arguments.
    """
    cam_dir: Optional[str] = None
    cam_format: str = 'bed_png'
    allow_pickle: bool = False
    backend_args: Optional[dict] = None

    def __post_init__(self):
        check_cam_format(self.cam_format)
        check_arg('cam_dir', self.cam_dir is None or isinstance(self.cam_dir, (str, os.PathLike)),
                  'a folder path or None', self.cam_dir)
        check_arg('allow_pickle', isinstance(self.allow_pickle, bool), 'True or False',
                  self.allow_pickle)
        check_arg('backend_args', self.backend_args is None or isinstance(self.backend_args, dict),
                  'a dict or None', self.backend_args)

    def stem(self, img_id: str) -> str:
        """``<cam_dir>/<img_id>``, the name every file of the image starts with."""
        if self.cam_dir is None:
            raise ValueError('this CAMStore has no cam_dir: pass the file stem')
        return osp.join(self.cam_dir, img_id)

    def paths(self, img_id: str, classes: Sequence[int] = (),
              stem: Optional[str] = None) -> List[str]:
        """The files of an image (one per class in ``classes`` for ``bed_png``)."""
        stem = stem or self.stem(img_id)
        if self.cam_format == 'bed_png':
            return [f'{stem}_{int(c)}.png' for c in classes]
        return [stem + _SUFFIX[self.cam_format]]

    @property
    def holds_saliency(self) -> bool:
        """Whether the store's files carry the saliency maps (``packed``)."""
        return self.cam_format == 'packed'

    def check_sal_dir(self, sal_dir: Optional[str]) -> None:
        """Refuse a saliency folder beside a store that holds the saliency maps
        (``packed``): with two sources for one map, which one the labels came
        from would be unclear.

        Raises:
            WSSSConfigError: naming ``sal_dir`` and what to do.
        """
        if self.holds_saliency and sal_dir is not None:
            raise WSSSConfigError(
                f"sal_dir must be None with cam_format='{self.cam_format}' (each image's "
                'saliency map is the one in its packed file, tools/pack_maps.py --sal-dir), '
                f"got {sal_dir!r}: remove sal_dir (and data_prefix['sal_path'] is not read)")

    def load_with_saliency(self,
                           img_id: str,
                           classes: Optional[Sequence[int]] = None,
                           hw: Optional[Tuple[int, int]] = None,
                           max_class: Optional[int] = None,
                           stem: Optional[str] = None,
                           sal_path: Optional[str] = None,
                           required: bool = False
                           ) -> Tuple[np.ndarray, List[int], Optional[np.ndarray]]:
        """:meth:`load_maps` and the image's saliency map: the one its packed
        file holds (``packed``), else the PNG at ``sal_path`` when given.

        Args:
            img_id, classes, hw, max_class, stem: as :meth:`load_maps`.
            sal_path (str, optional): the saliency PNG; must be None for a
                store that holds the saliency maps.
            required (bool): a saliency map is needed (``saliency`` mode).

        Returns:
            tuple: K×H×W CAMs, their K class ids, the H×W uint8 saliency map
            (None when there is none and none is required).

        Raises:
            WSSSInputError: as :meth:`load_maps`; a required saliency map that
            the pack does not hold; a missing or misfit saliency PNG.
        """
        self.check_sal_dir(sal_path)
        cams, keys, sal = self.load_maps(img_id, classes, hw, max_class, stem)
        if self.holds_saliency:
            if sal is None and required:
                raise WSSSInputError(
                    'the packed map file holds no saliency map: pack it with '
                    'tools/pack_maps.py --sal-dir (or tools/make_cams.py --cam-format packed '
                    "--sal-dir), or use mode='no_saliency'", img_id,
                    self.paths(img_id, stem=stem)[0])
        elif sal_path is not None:
            sal = read_saliency(sal_path, img_id, hw, self.backend_args)
        elif required:
            raise WSSSInputError("no saliency map: give a saliency folder, or use "
                                 "mode='no_saliency'", img_id)
        return cams, keys, sal

    def load(self,
             img_id: str,
             classes: Optional[Sequence[int]] = None,
             hw: Optional[Tuple[int, int]] = None,
             max_class: Optional[int] = None,
             stem: Optional[str] = None) -> Tuple[np.ndarray, List[int]]:
        """The CAMs of one image and their class ids (:meth:`load_maps` without
        the saliency map)."""
        return self.load_maps(img_id, classes, hw, max_class, stem)[:2]

    def load_maps(self,
                  img_id: str,
                  classes: Optional[Sequence[int]] = None,
                  hw: Optional[Tuple[int, int]] = None,
                  max_class: Optional[int] = None,
                  stem: Optional[str] = None
                  ) -> Tuple[np.ndarray, List[int], Optional[np.ndarray]]:
        """Read and check the maps of one image; every check runs here, once.

        Args:
            img_id (str): image id (file stem of the image), for messages.
            classes (Sequence[int], optional): the labelled classes (0-based).
                When given, exactly these are returned and each must have a
                CAM; when None, all the classes the store holds for the image.
            hw (tuple[int, int], optional): the image's H×W to check against.
            max_class (int, optional): the largest valid class id.
            stem (str, optional): the image's file stem; default
                ``<cam_dir>/<img_id>``.

        Returns:
            tuple[np.ndarray, list[int], np.ndarray | None]: K×H×W CAMs, uint8
            (value / 255) as stored or float32 in [0, 1], and their K class
            ids (:func:`make_pseudo_label` takes either); the H×W uint8
            saliency map when the file holds one (``packed``), else None.

        Raises:
            WSSSInputError: a missing or unreadable file, a labelled class
            without a CAM, an unknown class id, a size other than ``hw``,
            NaN or values outside [0, 1]; naming the image and the file.
        """
        stem = stem or self.stem(img_id)
        where = f'{stem}_<class>.png' if self.cam_format == 'bed_png' \
            else self.paths(img_id, stem=stem)[0]
        if classes is not None:
            classes = [int(c) for c in classes]
            self._check_ids(classes, max_class, img_id, None)
        sal = None
        if self.cam_format == 'bed_png':
            if classes is None:  # the ids in the file names (``_25.png`` in a VOC store)
                classes = self._bed_png_classes(stem, img_id)
                self._check_ids(classes, max_class, img_id, where)
            cams, keys = self._load_bed_png(stem, img_id, classes, hw)
        else:
            if self.cam_format == 'packed':
                # header (size, ids in range, strictly increasing) checked before
                # the payload is read
                header, maps = read_packed(where, img_id, hw, max_class, self.backend_args)
                keys, cams = list(header.classes), maps[int(header.has_saliency):]
                sal = maps[0] if header.has_saliency else None
            elif self.cam_format == 'npz':
                keys, cams = self._load_npz(where, img_id, hw)
            else:
                keys, cams = self._load_npy_dict(where, img_id)
            # the file's own ids are checked even when the labelled classes are
            # given: with keys [14, 14] a lookup by class would keep one map and
            # drop the other in silence
            self._check_ids(keys, max_class, img_id, where)
            if classes is not None and classes != keys:
                pos = {k: i for i, k in enumerate(keys)}
                missing = [c for c in classes if c not in pos]
                if missing:
                    raise WSSSInputError(
                        f'labelled class(es) {missing} have no CAM (the file holds '
                        f'{sorted(keys)})', img_id, where)
                cams, keys = cams[[pos[c] for c in classes]], classes
        if hw is not None and not len(keys):  # no labelled class: nothing to read
            cams = np.zeros((0, ) + tuple(hw), np.uint8)
        if hw is not None and cams.shape[1:] != tuple(hw):
            raise WSSSInputError(
                f'CAM is {cams.shape[2]}×{cams.shape[1]} (W×H) but the image is '
                f'{hw[1]}×{hw[0]}', img_id, where)
        if cams.dtype != np.uint8:
            cams = cams_to_unit(cams, img_id, where)
        return cams, keys, sal

    @staticmethod
    def _check_ids(ids, max_class, img_id, where):
        dup = sorted({k for k in ids if list(ids).count(k) > 1})
        if dup:  # two maps for one class: which one is meant is unknowable
            raise WSSSInputError(f'class id(s) {dup} appear more than once', img_id, where)
        bad = [k for k in ids if k < 0 or (max_class is not None and k > max_class)]
        if bad:
            valid = f'0..{max_class}' if max_class is not None else '>= 0'
            raise WSSSInputError(f'unknown class id(s) {bad} (valid: {valid})', img_id, where)

    def _bed_png_classes(self, stem: str, img_id: str) -> List[int]:
        folder, name = osp.split(stem)
        pat = re.compile(re.escape(name) + r'_(\d+)\.png$')
        if is_local(stem, self.backend_args):
            names = (osp.basename(p) for p in glob.glob(
                osp.join(glob.escape(folder), glob.escape(name) + '_*.png')))
        else:
            names = fileio.list_dir_or_file(folder, list_dir=False, suffix='.png',
                                            backend_args=self.backend_args)
        by_class = {}
        for m in filter(None, map(pat.match, names)):
            by_class.setdefault(int(m.group(1)), []).append(osp.join(folder, m.group(0)))
        if not by_class:
            raise WSSSInputError(f'no CAM file {name}_<class>.png in the CAM folder', img_id,
                                 folder)
        for c, paths in sorted(by_class.items()):
            if len(paths) > 1:
                _refuse_repeated_png(c, paths, img_id)
            plain = osp.join(folder, f'{name}_{c}.png')
            if paths[0] != plain:
                _refuse_padded_png(c, plain, paths[0], img_id)
        return sorted(by_class)

    def _check_padded_twins(self, stem: str, img_id: str, classes: Sequence[int]) -> None:
        """Refuse ``<stem>_014.png`` beside ``<stem>_14.png``: both name class 14
        and which one is meant is unknowable; and ``<stem>_014.png`` alone, with
        its name (the class's file is ``<stem>_14.png``). Probes the zero-padded
        names up to :data:`MAX_PADDED_DIGITS` digits with a stat each (local
        stores only: a remote store is checked only when its classes are listed).
        Every message names the files that exist."""
        if not is_local(stem, self.backend_args):
            return
        for c in classes:
            digits = str(int(c))
            plain = f'{stem}_{digits}.png'
            twins = [f'{stem}_{digits.zfill(n)}.png'
                     for n in range(len(digits) + 1, MAX_PADDED_DIGITS + 1)]
            found = [p for p in [plain] + twins if osp.exists(p)]
            if len(found) > 1:
                _refuse_repeated_png(c, found, img_id)
            if found and found[0] != plain:
                _refuse_padded_png(c, plain, found[0], img_id)

    def _load_bed_png(self, stem, img_id, classes, hw=None):
        if classes is None:
            classes = self._bed_png_classes(stem, img_id)
        else:
            self._check_padded_twins(stem, img_id, classes)
        cams = [read_gray_png(p, img_id, 'CAM', self.backend_args, hw)
                for p in self.paths(img_id, classes, stem)]
        shapes = {c.shape for c in cams}
        if len(shapes) > 1:
            raise WSSSInputError(f'CAM PNGs of different sizes {sorted(shapes)}', img_id,
                                 f'{stem}_<class>.png')
        if not cams:
            return np.zeros((0, 0, 0), np.uint8), []
        return np.stack(cams), list(classes)

    def _open(self, path, img_id):
        if is_local(path, self.backend_args):
            if not osp.isfile(path):
                raise WSSSInputError('CAM file not found', img_id, path)
            return path
        return io.BytesIO(read_bytes(path, img_id, 'CAM', self.backend_args))

    def _load_npz(self, path: str, img_id: str, hw=None):
        src = self._open(path, img_id)
        try:
            # allow_pickle=False: an npz store never runs code when read.
            with np.load(src, allow_pickle=False) as z:
                names = z.zip.namelist()
                if 'cams.npy' not in names or 'keys.npy' not in names:
                    raise KeyError(', '.join(n for n in ('cams', 'keys')
                                             if f'{n}.npy' not in names))
                # each header once, checked before its data is decoded: a small
                # compressed file can decode to gigabytes
                cams = _read_npz_member(z, 'cams', lambda shape, dtype: self._check_npz_cams(
                    shape, dtype, hw, img_id, path))
                k = cams.shape[0]
                keys = _read_npz_member(z, 'keys', lambda shape, dtype: self._check_npz_keys(
                    shape, dtype, k, img_id, path))
        except WSSSInputError:
            raise
        except KeyError as e:
            raise WSSSInputError(f"npz CAM file needs arrays 'keys' and 'cams' ({e})", img_id,
                                 path) from e
        except ValueError as e:
            raise WSSSInputError(f'npz CAM file holds pickled objects or is damaged ({e})',
                                 img_id, path) from e
        except Exception as e:  # zipfile.BadZipFile, OSError, EOFError...
            raise WSSSInputError(f'unreadable npz CAM file ({e})', img_id, path) from e
        return [int(k) for k in keys], cams

    @staticmethod
    def _check_npz_cams(shape, dtype, hw, img_id, path):
        if dtype.hasobject:
            raise WSSSInputError("npz 'cams' holds pickled objects (never read)", img_id, path)
        if len(shape) != 3 or dtype not in (np.uint8, np.float16, np.float32):
            raise WSSSInputError(
                f"npz 'cams' must be K×H×W uint8, float16 or float32; its header says {dtype} "
                f'{shape}', img_id, path)
        check_header_hw(shape[1:], hw, 'CAM', img_id, path)
        if shape[0] > MAX_CAMS_PER_IMAGE:
            raise WSSSInputError(f'npz CAM file holds {shape[0]} maps (more than '
                                 f'{MAX_CAMS_PER_IMAGE})', img_id, path)

    @staticmethod
    def _check_npz_keys(shape, dtype, num_cams, img_id, path):
        if len(shape) != 1 or not np.issubdtype(dtype, np.integer) or shape[0] != num_cams:
            raise WSSSInputError(
                f"npz 'keys' must be integer class ids, one per CAM; its header says {dtype} "
                f'{shape} for {num_cams} CAMs', img_id, path)

    def _load_npy_dict(self, path: str, img_id: str):
        if not self.allow_pickle:
            raise WSSSInputError(
                "'npy_dict' CAM files are pickles and loading them can run code: set "
                'allow_pickle=True only for files you trust', img_id, path)
        src = self._open(path, img_id)
        try:
            d = np.load(src, allow_pickle=True).item()
        except Exception as e:
            raise WSSSInputError(f'unreadable npy_dict CAM file ({e})', img_id, path) from e
        if not isinstance(d, dict):
            raise WSSSInputError(f'npy_dict CAM file holds a {type(d).__name__}, not a dict',
                                 img_id, path)
        if 'keys' in d and 'high_res' in d:  # IRN: keys are 0-based class ids
            keys = [_int_class_id(k, img_id, path) for k in np.asarray(d['keys']).reshape(-1)
                    .tolist()]
            cams = np.asarray(d['high_res'])
            if len(cams) == len(keys) + 1:  # IRN may store a background channel first
                cams = cams[1:]
        else:  # EPS: {class id: H×W}
            ids = {k: _int_class_id(k, img_id, path) for k in d}
            keys = sorted(ids.values())
            cams = np.stack([np.asarray(d[k]) for k in sorted(d, key=ids.get)]) if d else None
        if cams is None or cams.ndim != 3 or len(cams) != len(keys):
            raise WSSSInputError('npy_dict CAM file holds no K×H×W CAMs', img_id, path)
        return keys, cams


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


def pack_image(store: CAMStore, img_id: str, out_path: str,
               classes: Optional[Sequence[int]] = None, sal_path: Optional[str] = None,
               quantize: bool = False, codec: Optional[Codec] = None) -> int:
    """Write one image's CAMs (and saliency map) as a ``packed`` file.

    Args:
        store (CAMStore): the source store.
        img_id (str): the image.
        out_path (str): ``<out_dir>/<img_id>.maps``, written atomically.
        classes (Sequence[int], optional): the classes to pack (each must have
            a CAM); default every class the store holds for the image.
        sal_path (str, optional): its saliency PNG (same size as the CAMs).
        quantize (bool): allow float CAMs, stored as round(255·cam); labels
            made from them can differ from the float store's. Without it a
            float store is refused, so that a packed store always gives the
            labels of its source bit for bit.
        codec (Codec, optional): codec and level
            (:class:`~mmwsss.fileio.packed_maps.Codec`); default uncompressed.

    Returns:
        int: the number of bytes written.
    """
    cams, keys = store.load(img_id, classes)
    if cams.dtype != np.uint8:
        if not quantize:
            raise WSSSInputError(
                f'{cams.dtype} CAMs: a packed store holds uint8 maps, and labels made from '
                'round(255·cam) can differ from those of the float maps; pass --quantize to '
                'pack them anyway', img_id, store.paths(img_id, keys)[0])
        cams = np.round(cams * 255).astype(np.uint8)
    if not len(keys) and sal_path is None:
        raise WSSSInputError('no CAM and no saliency map: nothing gives the image size', img_id,
                             store.cam_dir)
    return save_image_pack(out_path, img_id, keys, cams, sal_path, store.backend_args, codec)


def save_image_pack(out_path: str, img_id: str, keys: Sequence[int], cams: np.ndarray,
                    sal_path: Optional[str] = None, backend_args: Optional[dict] = None,
                    codec: Optional[Codec] = None) -> int:
    """Write one image's uint8 CAMs and its saliency PNG (when given) as a
    ``packed`` file: the one packing step of ``tools/pack_maps.py`` and
    ``tools/make_cams.py --cam-format packed``.

    Args:
        out_path (str): ``<out_dir>/<img_id>.maps``, written atomically.
        img_id (str): the image, for messages.
        keys (Sequence[int]): the K class ids.
        cams (np.ndarray): K×H×W uint8 CAMs (round(255·cam)).
        sal_path (str, optional): the saliency PNG, the CAMs' size.
        backend_args (dict, optional): how to read ``sal_path``.
        codec (Codec, optional): codec and level
            (:class:`~mmwsss.fileio.packed_maps.Codec`); default uncompressed.

    Returns:
        int: the number of bytes written.
    """
    sal = None
    if sal_path is not None:
        sal = read_gray_png(sal_path, img_id, 'saliency map', backend_args,
                            cams.shape[1:] if len(keys) else None)
        if len(keys) and sal.shape != cams.shape[1:]:
            raise WSSSInputError(f'saliency map is {sal.shape[1]}×{sal.shape[0]} (W×H) but '
                                 f'the CAMs are {cams.shape[2]}×{cams.shape[1]}', img_id,
                                 sal_path)
        if not len(keys):
            cams = np.zeros((0, ) + sal.shape, np.uint8)
    elif not len(keys):
        raise WSSSInputError('no CAM and no saliency map: nothing gives the image size', img_id,
                             out_path)
    codec = codec or Codec()
    return save_packed(out_path, keys, cams, sal, codec.name, codec.level)
