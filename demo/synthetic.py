"""The embedded synthetic WSSS dataset: deterministic, seeded, in VOC layout.

Five object classes that a classifier has to learn from shape, texture and
colour together (the colour distributions overlap, distractors reuse the class
textures and colours), on cluttered backgrounds, with several objects and
co-occurring classes per image. Written as::

    OUT/JPEGImages/<id>.jpg
    OUT/SegmentationClassAug/<id>.png            palette PNG, 0 bg, c+1 class c
    OUT/ImageSets/Segmentation/{train_aug,val}.txt
    OUT/cls_labels/{train_aug,val}.txt           WSSS-BED list, 0-based ids
    OUT/wsss_bed/saliency_maps/<KEY>/<id>.png    8-bit saliency, one folder a source
    OUT/synthetic_meta.json                      params, metainfo, saliency quality

Saliency sources (``SALIENCY_SOURCES``): ``SYN_CLEAN`` (the GT foreground with
soft edges), ``SYN_COARSE`` (a low-resolution, blurred foreground: thin parts
and holes are lost) and ``SYN_ERRONEOUS`` (the three error types of EPS++:
a missing class, a partly covered object and a salient non-object).

Every image is drawn from its own generator seeded by ``(seed, split, index)``,
so the data do not depend on the number of images or on the order of work, and
an interrupted generation is completed by writing only the missing files (each
written atomically). ``synthetic_meta.json`` is written last: it marks a
finished dataset, which a second call detects and does not regenerate.

CLI::

    python -m demo.synthetic OUT_DIR [--preset smoke|default|large]
        [--num-train N] [--num-val N] [--size S] [--seed S] [--force]
"""
import argparse
import colorsys
import glob
import io
import json
import os
import os.path as osp
import shutil
import time
from typing import Dict, List, Optional, Tuple

import numpy as np
from PIL import Image, ImageFilter

from mmwsss.fileio import (atomic_write, cls_labels_from_label_map, format_cls_label_line,
                           save_label_png)
from mmwsss.functional import binarize_saliency, voc_colormap

GENERATOR_VERSION = 1
CLASSES = ('background', 'disc', 'box', 'triangle', 'ring', 'cross')
NUM_CLASSES = len(CLASSES) - 1  # foreground classes
PALETTE = voc_colormap(len(CLASSES))
SALIENCY_SOURCES = ('SYN_CLEAN', 'SYN_COARSE', 'SYN_ERRONEOUS')
SAL_THRESHOLD = 0.2  # the default binarisation of SaliencyPseudoLabel
PRESETS = dict(
    smoke=dict(num_train=8, num_val=4, size=64),
    default=dict(num_train=320, num_val=100, size=80),
    large=dict(num_train=1600, num_val=300, size=96))
SPLITS = (('train_aug', 0), ('val', 1))  # (list name, seed code)
META_FILE = 'synthetic_meta.json'
PARAMS_FILE = '.synthetic_params.json'  # written first: marks a generation in progress
_OUR_DIRS = ('JPEGImages', 'SegmentationClassAug', 'ImageSets', 'cls_labels',
             osp.join('wsss_bed', 'saliency_maps'))

# Class appearance. Hue centres are 0.14 apart with a spread of 0.07 and a quarter
# of the objects take any hue: colour alone cannot tell the classes apart.
_HUE_CENTRES = (0.0, 0.14, 0.28, 0.42, 0.56)
_HUE_SD = 0.07
_P_ANY_HUE = 0.25
_TEXTURES = ('radial', 'stripes', 'checker', 'speckle', 'dots')  # one a class, same order
_PARTNER = (1, 0, 4, 3, 0)  # co-occurrence prior: disc-box, triangle-cross, ring-disc
# SYN_ERRONEOUS's error rates: the chance that an image with two classes or more loses
# one class, that each object is partly cut away, that a visible distractor is salient
ERROR_RATES = dict(missing_class=0.5, partial=0.35, non_object=0.8)


def synthetic_metainfo() -> dict:
    """``metainfo`` for the datasets: classes (background first) and palette."""
    return dict(classes=CLASSES, palette=[list(p) for p in PALETTE])


def dataset_paths(root: str) -> dict:
    """The folders of a generated dataset, for configs and tools."""
    return dict(
        data_root=root,
        img_dir=osp.join(root, 'JPEGImages'),
        ann_dir=osp.join(root, 'SegmentationClassAug'),
        train_list=osp.join(root, 'ImageSets', 'Segmentation', 'train_aug.txt'),
        val_list=osp.join(root, 'ImageSets', 'Segmentation', 'val.txt'),
        train_cls_labels=osp.join(root, 'cls_labels', 'train_aug.txt'),
        val_cls_labels=osp.join(root, 'cls_labels', 'val.txt'),
        sal_dirs={k: osp.join(root, 'wsss_bed', 'saliency_maps', k)
                  for k in SALIENCY_SOURCES},
        meta=osp.join(root, META_FILE))


# --------------------------------------------------------------------------- drawing
def _hsv(h, s, v) -> np.ndarray:
    return np.array(colorsys.hsv_to_rgb(h % 1.0, s, v), dtype=np.float32)


def _lowfreq(rng, h, w, cells=4) -> np.ndarray:
    """A smooth random field in about [-1, 1] (bilinear upsampling of a coarse grid)."""
    coarse = rng.standard_normal((cells, cells)).astype(np.float32)
    return np.asarray(Image.fromarray(coarse, mode='F').resize((w, h), Image.BILINEAR))


def _texture(kind, rng, u, v, d=None, r=1.0) -> np.ndarray:
    """A texture in [0, 1] in local coordinates ``u, v`` (it turns with the object)."""
    if kind == 'radial':  # smooth shading, bright centre
        dd = np.sqrt(u * u + v * v) if d is None else d
        return np.clip(1.0 - (dd / max(r, 1e-3))**2, 0, 1)
    if kind == 'stripes':
        p = rng.uniform(3.5, 5.5)
        return 0.5 + 0.5 * np.sin(2 * np.pi * u / p)
    if kind == 'checker':
        p = rng.uniform(3.0, 4.5)
        return ((np.floor(u / p) + np.floor(v / p)) % 2).astype(np.float32)
    if kind == 'speckle':
        return (rng.random(u.shape) > 0.5).astype(np.float32)
    if kind == 'dots':
        p = rng.uniform(4.0, 6.0)
        return ((np.sin(2 * np.pi * u / p) > 0.2) &
                (np.sin(2 * np.pi * v / p) > 0.2)).astype(np.float32)
    raise ValueError(kind)


def _local(xx, yy, cx, cy, theta):
    du, dv = xx - cx, yy - cy
    c, s = np.cos(theta), np.sin(theta)
    return c * du + s * dv, -s * du + c * dv


def _shape(cls: int, u, v, r: float, ar: float):
    """Mask of class ``cls`` (0-based) of radius ``r`` and aspect ``ar``, plus the
    normalised elliptical distance used by the radial texture."""
    d = np.sqrt(u * u + (v / ar)**2)
    if cls == 0:  # disc (ellipse)
        return d <= r, d
    if cls == 1:  # box
        return (np.abs(u) <= 0.85 * r) & (np.abs(v) <= 0.85 * r * ar), d
    if cls == 2:  # triangle, circumradius 1.2 r
        m = np.ones(u.shape, dtype=bool)
        for k in range(3):
            a = np.pi / 2 + 2 * np.pi * k / 3
            m &= u * np.cos(a) + v * np.sin(a) <= 0.6 * r
        return m, d
    if cls == 3:  # ring: the hole is background
        return (d <= r) & (d >= 0.5 * r), d
    if cls == 4:  # cross
        w = 0.33 * r
        au, av = np.abs(u), np.abs(v)
        return ((au <= w) & (av <= r)) | ((av <= w) & (au <= r)), d
    raise ValueError(cls)


def _paint(img, mask, tex, col_a, col_b):
    """Paint ``col_b + (col_a - col_b) * tex`` where ``mask``."""
    t = tex[mask][:, None]
    img[mask] = col_b + (col_a - col_b) * t


def _blur_u8(x: np.ndarray, sigma: float) -> np.ndarray:
    im = Image.fromarray(np.clip(np.round(x), 0, 255).astype(np.uint8), mode='L')
    return np.asarray(im.filter(ImageFilter.GaussianBlur(sigma)))


def render_sample(rng: np.random.Generator, size: int,
                  error_rates: Optional[Dict[str, float]] = None) -> dict:
    """Draw one image with its GT and saliency maps.

    Args:
        rng (np.random.Generator): the image's own generator.
        size (int): image height and width in pixels.
        error_rates (dict, optional): ``SYN_ERRONEOUS``'s error rates
            (``ERROR_RATES`` when None). The errors are drawn last, so the image,
            the GT and the other sources do not depend on them.

    Returns:
        dict: ``img`` (H×W×3 uint8), ``label`` (H×W uint8, 0 bg, c+1 class c),
        ``saliency`` (key → H×W uint8 for each of ``SALIENCY_SOURCES``) and
        ``errors`` (the error types drawn into ``SYN_ERRONEOUS``).
    """
    h = w = int(size)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32) + 0.5

    # Background: a low-saturation colour, smooth colour variation, sometimes a
    # faint class texture (so texture alone is no proof of an object).
    base = _hsv(rng.random(), rng.uniform(0.05, 0.4), rng.uniform(0.3, 0.75))
    img = base + 0.12 * np.stack([_lowfreq(rng, h, w) for _ in range(3)], -1)
    if rng.random() < 0.35:
        kind = _TEXTURES[rng.integers(len(_TEXTURES))]
        u, v = _local(xx, yy, w / 2, h / 2, rng.uniform(0, np.pi))
        img += 0.08 * (_texture(kind, rng, u, v, r=w / 2) - 0.5)[..., None]

    # Clutter: thin lines and small textured blobs of any colour.
    for _ in range(rng.integers(0, 4)):
        p0 = rng.uniform(0, w, 2)
        ang, length = rng.uniform(0, 2 * np.pi), rng.uniform(0.2, 0.6) * w
        d = np.array([np.cos(ang), np.sin(ang)], dtype=np.float32)
        t = np.clip((xx - p0[0]) * d[0] + (yy - p0[1]) * d[1], 0, length)
        dist = np.hypot(xx - p0[0] - t * d[0], yy - p0[1] - t * d[1])
        img[dist <= rng.uniform(0.6, 1.4)] = _hsv(rng.random(), rng.uniform(0.3, 1),
                                                  rng.uniform(0.3, 1))
    for _ in range(rng.integers(0, 5)):
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        u, v = _local(xx, yy, cx, cy, rng.uniform(0, np.pi))
        r = rng.uniform(1.5, 4.0)
        m = (u / r)**2 + (v / (r * rng.uniform(0.5, 1)))**2 <= 1
        a = _hsv(rng.random(), rng.uniform(0.4, 1), rng.uniform(0.5, 1))
        _paint(img, m, _texture(_TEXTURES[rng.integers(5)], rng, u, v, r=r), a, a * 0.4)

    # A conspicuous non-object (a wobbly blob with a class texture): background in
    # the GT, but the erroneous saliency source marks it salient.
    distractor = np.zeros((h, w), dtype=bool)
    if rng.random() < 0.5:
        cx, cy = rng.uniform(0.2, 0.8, 2) * np.array([w, h])
        u, v = _local(xx, yy, cx, cy, 0.0)
        r0 = rng.uniform(0.09, 0.14) * w
        phi = np.arctan2(v, u)
        rad = r0 * (1 + 0.3 * np.sin(rng.integers(5, 8) * phi + rng.uniform(0, 2 * np.pi)))
        distractor = np.hypot(u, v) <= rad
        a = _hsv(rng.random(), rng.uniform(0.5, 1), rng.uniform(0.55, 1))
        _paint(img, distractor, _texture(_TEXTURES[rng.integers(5)], rng, u, v, r=r0), a,
               a * 0.4)

    # Objects: 1-4, with co-occurring classes and occlusion (later ones on top,
    # every object keeps at least 45% of its area visible).
    n_obj = int(rng.choice([1, 2, 3, 4], p=[0.3, 0.35, 0.25, 0.1]))
    inst = np.full((h, w), -1, dtype=np.int64)
    inst_cls: List[int] = []
    area: List[int] = []
    for k in range(n_obj):
        if k == 0:
            cls = int(rng.integers(NUM_CLASSES))
        else:
            p = rng.random()
            cls = (_PARTNER[inst_cls[0]] if p < 0.35 else inst_cls[-1] if p < 0.5 else
                   int(rng.integers(NUM_CLASSES)))
        big = 1.35 if n_obj == 1 else 1.0
        for _ in range(10):
            r = rng.uniform(0.12, 0.2) * w * big
            ar = rng.uniform(0.7, 1.0) if cls != 3 else rng.uniform(0.85, 1.0)
            cx, cy = rng.uniform(0.6 * r, w - 0.6 * r), rng.uniform(0.6 * r, h - 0.6 * r)
            u, v = _local(xx, yy, cx, cy, rng.uniform(0, 2 * np.pi))
            m, d = _shape(cls, u, v, r, ar)
            if m.sum() < max(20, 0.02 * h * w):
                continue
            covered = np.bincount(inst[m & (inst >= 0)], minlength=len(area))
            visible = np.bincount(inst[inst >= 0], minlength=len(area))
            if all(visible[j] - covered[j] >= 0.45 * area[j] for j in range(len(area))):
                break
        else:
            continue  # no room for it
        if rng.random() < _P_ANY_HUE:
            hue = rng.random()
        else:
            hue = _HUE_CENTRES[cls] + rng.normal(0, _HUE_SD)
        sat, val = rng.uniform(0.45, 1), rng.uniform(0.55, 1)
        _paint(img, m, _texture(_TEXTURES[cls], rng, u, v, d, r), _hsv(hue, sat, val),
               _hsv(hue, sat * 0.8, val * 0.4))
        inst[m] = len(area)
        inst_cls.append(cls)
        area.append(int(m.sum()))

    img = img * rng.uniform(0.85, 1.15)  # exposure
    img += rng.normal(0, 0.025, img.shape).astype(np.float32)
    img_u8 = np.clip(np.round(img * 255), 0, 255).astype(np.uint8)
    lut = np.array([c + 1 for c in inst_cls] + [0], dtype=np.uint8)  # -1 → last → 0
    label = lut[inst]
    fg = label > 0

    # Saliency sources.
    sal = {}
    sal['SYN_CLEAN'] = _blur_u8(fg * 255.0, 0.5)
    # A low-resolution model: squared so that its 0.2 level lies near the object
    # boundary (not a wide halo), but thin parts and holes are lost.
    small = Image.fromarray(fg.astype(np.uint8) * 255, mode='L').resize(
        (max(w // 6, 2), max(h // 6, 2)), Image.BOX)
    up = np.asarray(small.resize((w, h), Image.BILINEAR), dtype=np.float32) / 255
    sal['SYN_COARSE'] = _blur_u8(255 * up**2, 1.0)

    rates = dict(ERROR_RATES, **(error_rates or {}))
    errors = []
    keep = inst >= 0
    present = sorted({inst_cls[j] for j in np.unique(inst[keep])})
    if len(present) >= 2 and rng.random() < rates['missing_class']:  # (1) missing class
        drop = present[rng.integers(len(present))]
        keep &= lut[inst] != drop + 1
        errors.append(f'missing_class:{CLASSES[drop + 1]}')
    for j in np.unique(inst[keep]):  # (2) partly covered object
        if rng.random() < rates['partial']:
            mj = keep & (inst == j)
            ang = rng.uniform(0, 2 * np.pi)
            proj = xx * np.cos(ang) + yy * np.sin(ang)
            cut = np.quantile(proj[mj], rng.uniform(0.3, 0.65))
            keep &= ~(mj & (proj > cut))
            errors.append(f'partial:{CLASSES[inst_cls[j] + 1]}')
    visible_distractor = distractor & (inst < 0)
    if visible_distractor.sum() >= 10 and rng.random() < rates['non_object']:  # (3) salient non-object
        keep |= visible_distractor
        errors.append('non_object')
    sal['SYN_ERRONEOUS'] = _blur_u8(keep * 255.0, 0.7)
    return dict(img=img_u8, label=label, saliency=sal, errors=errors)


# ------------------------------------------------------------------------ dataset I/O
def _image_rng(seed: int, split_code: int, index: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(seed), split_code, int(index)]))


def _image_id(split: str, index: int) -> str:
    return f"{'train' if split == 'train_aug' else split}_{index:05d}"


def _save_jpeg(path: str, img: np.ndarray) -> None:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format='JPEG', quality=92)
    atomic_write(path, lambda f: f.write(buf.getvalue()))


# what a finished dataset's meta file holds, each of this type
_META_FIELDS = dict(params=dict, metainfo=dict, splits=dict, class_counts=dict,
                    saliency_quality=dict, saliency_errors=dict, mean_classes_per_image=float,
                    generation_seconds=float)


def _read_json(path: str, fields: Optional[dict] = None) -> Optional[dict]:
    """A JSON object of ours, or None: a missing or damaged file (not an object,
    or lacking one of ``fields`` of its type) counts as absent, and the data
    are checked anew."""
    if not osp.isfile(path):
        return None
    try:
        with open(path, encoding='utf-8') as f:
            data = json.load(f)
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    for key, kind in (fields or {}).items():
        ok = isinstance(data.get(key), kind) or (
            kind is float and type(data.get(key)) is int)
        if not ok:
            return None
    return data


def _clean(root: str) -> None:
    """Remove what the generator writes (and nothing else) under ``root``."""
    for d in _OUR_DIRS:
        p = osp.join(root, d)
        if osp.isdir(p):
            shutil.rmtree(p)
    for f in (META_FILE, PARAMS_FILE):
        if osp.isfile(osp.join(root, f)):
            os.unlink(osp.join(root, f))


def _remove_stray_tmp(root: str) -> None:
    """Temporary files of atomic writes cut short by a crash."""
    for d in _OUR_DIRS:
        for p in glob.glob(osp.join(root, d, '**', '.*.tmp'), recursive=True):
            os.unlink(p)


def _sal_stats(sal_u8: np.ndarray, fg: np.ndarray) -> Tuple[int, int, int, int]:
    s = binarize_saliency(sal_u8, SAL_THRESHOLD)
    return int((s & fg).sum()), int((s | fg).sum()), int(s.sum()), int(fg.sum())


def _params(num_train, num_val, size, seed) -> dict:
    return dict(version=GENERATOR_VERSION, num_train=int(num_train), num_val=int(num_val),
                size=int(size), seed=int(seed))


def is_finished(out_dir: str,
                num_train: int = PRESETS['default']['num_train'],
                num_val: int = PRESETS['default']['num_val'],
                size: int = PRESETS['default']['size'],
                seed: int = 0) -> bool:
    """Whether ``out_dir`` holds a finished dataset made with these parameters."""
    meta = _read_json(osp.join(out_dir, META_FILE), _META_FIELDS)
    return meta is not None and meta.get('params') == _params(num_train, num_val, size, seed)


def generate_dataset(out_dir: str,
                     num_train: int = PRESETS['default']['num_train'],
                     num_val: int = PRESETS['default']['num_val'],
                     size: int = PRESETS['default']['size'],
                     seed: int = 0,
                     force: bool = False,
                     progress: bool = True) -> dict:
    """Generate the synthetic dataset under ``out_dir`` (or find it done).

    A finished dataset with the same parameters is returned as is. An
    interrupted one with the same parameters is completed (only missing files
    are written; the content is the same as in one go). A dataset made with
    other parameters, or a folder that holds other files in the generator's
    sub-folders, is an error unless ``force``, which removes what the generator
    writes and starts again.

    Args:
        out_dir (str): dataset root (VOC2012 layout).
        num_train (int): training images (``train_aug``).
        num_val (int): validation images (``val``).
        size (int): image height and width in pixels (at least 32).
        seed (int): the seed; the same seed gives the same files.
        force (bool): replace a dataset made with other parameters.
        progress (bool): show a tqdm progress bar.

    Returns:
        dict: the metadata also written to ``synthetic_meta.json``: ``params``,
        ``metainfo``, ``splits`` (ids and image-level labels), ``class_counts``,
        ``saliency_quality`` (per source: mean image IoU, dataset IoU,
        precision and recall of the binarised saliency against the GT
        foreground), ``saliency_errors`` and ``generation_seconds``.
    """
    if size < 32:
        raise ValueError(f'size must be at least 32 pixels, got {size}')
    if num_train < 1 or num_val < 1:
        raise ValueError(f'need at least one image per split, got num_train={num_train}, '
                         f'num_val={num_val}')
    params = _params(num_train, num_val, size, seed)
    meta_path, params_path = osp.join(out_dir, META_FILE), osp.join(out_dir, PARAMS_FILE)
    meta = _read_json(meta_path, _META_FIELDS)
    started = _read_json(params_path)
    if meta is not None and meta.get('params') == params and not force:
        return meta  # finished before
    previous = (meta or {}).get('params') or started
    if previous is not None and previous != params and not force:
        raise FileExistsError(
            f'{out_dir} holds a synthetic dataset made with {previous}, not {params}: '
            'pass force=True (--force) to replace it, or choose another folder')
    if previous is None and not force and any(
            osp.isdir(osp.join(out_dir, d)) and os.listdir(osp.join(out_dir, d))
            for d in _OUR_DIRS):
        raise FileExistsError(
            f'{out_dir} already holds files in {list(_OUR_DIRS)} that the generator did not '
            'write: pass force=True (--force) to replace them, or choose another folder')
    if force or (previous is not None and previous != params):
        _clean(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    _remove_stray_tmp(out_dir)
    atomic_write(params_path, lambda f: f.write(json.dumps(params).encode()))

    paths = dataset_paths(out_dir)
    t0 = time.perf_counter()
    jobs = [(split, code, i) for split, code in SPLITS
            for i in range(num_train if split == 'train_aug' else num_val)]
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(jobs), desc='synthetic dataset', unit='img')
    splits: Dict[str, Dict[str, List[int]]] = {s: {} for s, _ in SPLITS}
    inter = {k: 0 for k in SALIENCY_SOURCES}
    union, n_sal, iou_sum = dict(inter), dict(inter), {k: 0.0 for k in SALIENCY_SOURCES}
    n_fg = 0
    errors: Dict[str, List[str]] = {}
    for split, code, i in jobs:
        img_id = _image_id(split, i)
        s = render_sample(_image_rng(seed, code, i), size)
        # Files written before an interruption are complete (atomic writes) and
        # identical to what this call makes: only the missing ones are written.
        out = osp.join(paths['img_dir'], img_id + '.jpg')
        if not osp.isfile(out):
            _save_jpeg(out, s['img'])
        out = osp.join(paths['ann_dir'], img_id + '.png')
        if not osp.isfile(out):
            save_label_png(out, s['label'], PALETTE)
        fg = s['label'] > 0
        for key in SALIENCY_SOURCES:
            out = osp.join(paths['sal_dirs'][key], img_id + '.png')
            if not osp.isfile(out):
                save_label_png(out, s['saliency'][key])
            a, b, ns, nf = _sal_stats(s['saliency'][key], fg)
            inter[key] += a
            union[key] += b
            n_sal[key] += ns
            iou_sum[key] += a / b if b else 1.0
        n_fg += int(fg.sum())
        splits[split][img_id] = cls_labels_from_label_map(s['label'], NUM_CLASSES)
        if s['errors']:
            errors[img_id] = s['errors']
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()

    for split, _ in SPLITS:
        ids = list(splits[split])
        lst = ''.join(i + '\n' for i in ids).encode()
        cls = ''.join(format_cls_label_line(i, splits[split][i]) + '\n' for i in ids).encode()
        atomic_write(osp.join(out_dir, 'ImageSets', 'Segmentation', split + '.txt'),
                     lambda f, b=lst: f.write(b))
        atomic_write(osp.join(out_dir, 'cls_labels', split + '.txt'),
                     lambda f, b=cls: f.write(b))
    n_img = len(jobs)
    quality = {
        k: dict(mean_iou=round(iou_sum[k] / n_img, 4),
                dataset_iou=round(inter[k] / max(union[k], 1), 4),
                precision=round(inter[k] / max(n_sal[k], 1), 4),
                recall=round(inter[k] / max(n_fg, 1), 4))
        for k in SALIENCY_SOURCES
    }
    counts = np.zeros(NUM_CLASSES, dtype=np.int64)
    for split, _ in SPLITS:
        for c in splits[split].values():
            counts[c] += 1
    err_counts: Dict[str, int] = {}
    for errs in errors.values():
        for e in errs:
            kind = e.split(':')[0]
            err_counts[kind] = err_counts.get(kind, 0) + 1
    meta = dict(
        params=params,
        metainfo=synthetic_metainfo(),
        saliency_sources=list(SALIENCY_SOURCES),
        sal_threshold=SAL_THRESHOLD,
        splits={s: {i: c for i, c in v.items()} for s, v in splits.items()},
        class_counts={CLASSES[c + 1]: int(n) for c, n in enumerate(counts)},
        mean_classes_per_image=round(
            sum(len(c) for v in splits.values() for c in v.values()) / n_img, 3),
        saliency_quality=quality,
        saliency_errors=dict(source='SYN_ERRONEOUS', counts=err_counts, images=errors),
        generation_seconds=round(time.perf_counter() - t0, 3))
    # The meta file is written last: it marks the dataset as finished.
    text = json.dumps(meta, indent=1)
    atomic_write(meta_path, lambda f: f.write(text.encode()))
    os.unlink(params_path)
    return json.loads(text)  # as a later call reads it back


def generate_error_source(root: str, out_dir: str, rates: Dict[str, float],
                          progress: bool = False) -> dict:
    """Write an erroneous saliency source with other error rates for the training
    images of the finished dataset at ``root`` (images and GT unchanged).

    Args:
        root (str): a dataset made by :func:`generate_dataset`.
        out_dir (str): the new source's folder (``<img_id>.png``).
        rates (dict): error rates, keys of ``ERROR_RATES`` (the rest keep theirs).
        progress (bool): show a tqdm progress bar.

    Returns:
        dict: ``rates``, ``quality`` (as ``saliency_quality``) and ``counts`` of the
        errors drawn; also written to ``out_dir/source_meta.json``, last, which
        marks the folder finished (a second call with the same rates returns it).
    """
    unknown = set(rates) - set(ERROR_RATES)
    if unknown:
        raise ValueError(f'unknown error types {sorted(unknown)}; known: {list(ERROR_RATES)}')
    meta = _read_json(osp.join(root, META_FILE), _META_FIELDS)
    if meta is None:
        raise FileNotFoundError(f'{root} holds no finished synthetic dataset ({META_FILE})')
    params, rates = meta['params'], dict(ERROR_RATES, **rates)
    out_meta = osp.join(out_dir, 'source_meta.json')
    done = _read_json(out_meta, dict(rates=dict, params=dict))
    if done is not None and done['rates'] == rates and done['params'] == params:
        return done
    os.makedirs(out_dir, exist_ok=True)
    n = params['num_train']
    jobs = range(n)
    if progress:
        from tqdm import tqdm
        jobs = tqdm(jobs, desc=f'saliency source {osp.basename(out_dir)}', unit='img')
    inter = union = n_sal = n_fg = 0
    counts: Dict[str, int] = {}
    for i in jobs:
        s = render_sample(_image_rng(params['seed'], 0, i), params['size'], rates)
        sal = s['saliency']['SYN_ERRONEOUS']
        save_label_png(osp.join(out_dir, _image_id('train_aug', i) + '.png'), sal)
        a, b, ns, nf = _sal_stats(sal, s['label'] > 0)
        inter, union, n_sal, n_fg = inter + a, union + b, n_sal + ns, n_fg + nf
        for e in s['errors']:
            counts[e.split(':')[0]] = counts.get(e.split(':')[0], 0) + 1
    done = dict(rates=rates, params=params, counts=counts, quality=dict(
        dataset_iou=round(inter / max(union, 1), 4), precision=round(inter / max(n_sal, 1), 4),
        recall=round(inter / max(n_fg, 1), 4)))
    text = json.dumps(done, indent=1)
    atomic_write(out_meta, lambda f: f.write(text.encode()))
    return done


def format_quality_table(meta: dict) -> str:
    """The saliency sources' quality as a text table."""
    lines = [f"{'source':<15}{'mean IoU':>9}{'IoU':>7}{'prec':>7}{'recall':>7}"]
    for k, q in meta['saliency_quality'].items():
        lines.append(f"{k:<15}{q['mean_iou']:>9.3f}{q['dataset_iou']:>7.3f}"
                     f"{q['precision']:>7.3f}{q['recall']:>7.3f}")
    return '\n'.join(lines)


def parse_args(argv=None):
    from mmwsss.cli import nonneg_int, positive_int
    parser = argparse.ArgumentParser(
        description='Generate the embedded synthetic WSSS dataset (VOC layout + WSSS-BED '
        'saliency maps). Deterministic given the seed; resumable.')
    parser.add_argument('out_dir', help='dataset root to write')
    parser.add_argument('--preset', choices=sorted(PRESETS), default='default',
                        help='sizes: smoke (a handful of images), default, large')
    parser.add_argument('--num-train', type=positive_int, help='training images (overrides --preset)')
    parser.add_argument('--num-val', type=positive_int, help='validation images (overrides --preset)')
    parser.add_argument('--size', type=positive_int, help='image side in pixels (overrides --preset)')
    parser.add_argument('--seed', type=nonneg_int, default=0, help='random seed')
    parser.add_argument('--force', action='store_true',
                        help='replace a dataset made with other parameters')
    parser.add_argument('--no-progress', action='store_true', help='no progress bar')
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    p = dict(PRESETS[args.preset])
    for k in ('num_train', 'num_val', 'size'):
        if getattr(args, k) is not None:
            p[k] = getattr(args, k)
    done = 'found finished' if is_finished(args.out_dir, seed=args.seed, **p) and \
        not args.force else 'generated'
    try:
        meta = generate_dataset(args.out_dir, seed=args.seed, force=args.force,
                                progress=not args.no_progress, **p)
    except (FileExistsError, ValueError) as e:
        raise SystemExit(f'error: {e}') from None
    print(f"{args.out_dir}: {done}, {p['num_train']} train + {p['num_val']} val images of "
          f"{p['size']}x{p['size']} px, {NUM_CLASSES} classes {list(CLASSES[1:])}, "
          f"{meta['mean_classes_per_image']} classes/image "
          f"(generation {meta['generation_seconds']:.1f}s)")
    print(f'saliency quality (binarised at {SAL_THRESHOLD}, against the GT foreground):')
    print(format_quality_table(meta))
    print('errors drawn into SYN_ERRONEOUS (images):', meta['saliency_errors']['counts'])


if __name__ == '__main__':
    main()
