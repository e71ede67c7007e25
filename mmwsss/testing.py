"""Made-up data for checks and benchmarks: a VOC-like training set with WSSS-BED maps.

:func:`make_voc_like_data` writes, under one root, what a VOC WSSS config reads
(``JPEGImages``, the ``train_aug`` list, WSSS-BED image-level labels, ``bed_png``
CAMs and saliency PNGs) and the same pseudo labels precomputed as PNGs by
:class:`mmwsss.functional.PseudoLabelRule` from the stored maps, so that a
pipeline reading them with ``LoadAnnotations`` sees exactly the labels that
``SaliencyPseudoLabel`` makes on the fly.
"""
import os
import os.path as osp
from dataclasses import dataclass
from typing import List, Optional, Tuple

import numpy as np
from PIL import Image

from mmwsss.fileio import CAMStore, read_saliency, save_cams_bed_png, save_label_png
from mmwsss.functional import PseudoLabelRule


@dataclass(frozen=True)
class VOCLikeData:
    """Where :func:`make_voc_like_data` put each part, relative to ``root``
    (as a VOC WSSS config names them under ``data_root`` / ``maps_root``)."""
    root: str
    ids: Tuple[str, ...]
    ann_file: str = 'ImageSets/Segmentation/train_aug.txt'
    cls_label_file: str = 'cls_labels/train_aug.txt'
    img_path: str = 'JPEGImages'
    cam_path: str = 'activation_maps/GEN_CAM'
    sal_path: str = 'saliency_maps/GEN_SAL'
    label_path: str = 'pseudo_labels'


def _image(rng, h: int, w: int, cams: np.ndarray) -> np.ndarray:
    """A photo-like H×W×3 uint8 image: a smooth background, objects tinted where their
    CAM is high, mild noise (per-pixel noise alone would make JPEGs unusually slow to
    decode and skew data-loading times)."""
    low = rng.uniform(40, 215, (max(2, h // 64), max(2, w // 64), 3)).astype(np.uint8)
    img = np.asarray(Image.fromarray(low).resize((w, h), Image.BILINEAR), dtype=np.float32)
    for cam in cams:
        img += (cam[..., None] > 0.3) * (rng.uniform(-90, 90, 3).astype(np.float32))
    img += rng.normal(0, 6, img.shape).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def make_voc_like_data(root: str,
                       num_images: int = 40,
                       size: Tuple[int, int] = (375, 500),
                       num_classes: int = 20,
                       rule: Optional[PseudoLabelRule] = None,
                       seed: int = 0,
                       maps: str = 'cones') -> VOCLikeData:
    """Write a VOC-like WSSS training set under ``root`` (idempotent: an existing
    complete set with the same image list is kept).

    Images alternate between H×W = ``size`` and its transpose (VOC's landscape and
    portrait 500×375), each with 1–3 of ``num_classes`` classes as round blobs.
    CAMs are stored as ``bed_png``; the saliency map is a soft version of the objects
    (near 0 / 255 with smooth edges, like a salient-object detector's output).

    Args:
        root (str): output folder.
        num_images (int): number of images.
        size (tuple[int, int]): H, W of the landscape images.
        num_classes (int): foreground classes (VOC: 20).
        rule (PseudoLabelRule, optional): the rule of the precomputed labels;
            default ``PseudoLabelRule()`` (τ 0.1, ``saliency`` mode: the CAM leaves).
        seed (int): random seed.
        maps (str): ``'cones'`` (default): each CAM a cone over its blob, zero
            elsewhere, the saliency map a soft version of the objects;
            ``'stride8'``: :func:`make_stride8_maps` (a classifier's and a
            detector's look, for size measurements). The kind is not part of
            the idempotence check: use another ``root`` per kind.

    Returns:
        VOCLikeData: the paths, relative to ``root``.
    """
    if maps not in ('cones', 'stride8'):
        raise ValueError(f"maps must be 'cones' or 'stride8', got {maps!r}")
    rule = rule or PseudoLabelRule()
    ids = tuple(f'gen_{i:05d}' for i in range(num_images))
    data = VOCLikeData(root=root, ids=ids)
    list_file = osp.join(root, data.ann_file)
    if osp.isfile(list_file) and tuple(open(list_file).read().split()) == ids:
        return data
    for d in (data.img_path, data.cam_path, data.sal_path, data.label_path,
              osp.dirname(data.ann_file), osp.dirname(data.cls_label_file)):
        os.makedirs(osp.join(root, d), exist_ok=True)
    rng = np.random.default_rng(seed)
    store = CAMStore(osp.join(root, data.cam_path))
    cls_lines: List[str] = []
    for i, img_id in enumerate(ids):
        h, w = size if i % 2 == 0 else size[::-1]
        k = int(rng.integers(1, 4))
        classes = sorted(rng.choice(num_classes, size=min(k, num_classes), replace=False)
                         .tolist())
        if maps == 'stride8':
            cams, sal = make_stride8_maps(rng, h, w, len(classes))
            cams = cams / np.float32(255)  # round(255·(v/255)) == v: stored as made
        else:
            yy, xx = np.mgrid[:h, :w].astype(np.float32)
            cams = np.stack([
                np.clip(1 - np.hypot(yy - rng.uniform(0, h), xx - rng.uniform(0, w)) /
                        rng.uniform(0.15, 0.5) / min(h, w), 0, 1) for _ in classes
            ])
            sal = np.round(255 / (1 + np.exp(-12 * (cams.max(0) - 0.3)))).astype(np.uint8)
        Image.fromarray(_image(rng, h, w, cams)).save(
            osp.join(root, data.img_path, img_id + '.jpg'), quality=90)
        sal_file = osp.join(root, data.sal_path, img_id + '.png')
        Image.fromarray(sal).save(sal_file)
        save_cams_bed_png(store.cam_dir, img_id, classes, cams)
        # the label from the maps as stored (uint8), as SaliencyPseudoLabel reads them
        stored, keys = store.load(img_id, classes, (h, w))
        label = rule(stored, keys, read_saliency(sal_file, img_id, (h, w)))
        save_label_png(osp.join(root, data.label_path, img_id + '.png'), label)
        cls_lines.append(' '.join([img_id] + [str(c) for c in classes]))
    with open(osp.join(root, data.cls_label_file), 'w') as f:
        f.write('\n'.join(cls_lines) + '\n')
    with open(list_file, 'w') as f:  # last: its presence marks a complete set
        f.write('\n'.join(ids) + '\n')
    return data


def make_stride8_maps(rng: np.random.Generator, h: int, w: int,
                      num_cams: int) -> Tuple[np.ndarray, np.ndarray]:
    """CAMs and a saliency map shaped like a classifier's and a salient-object
    detector's, for size measurements (the cones of :func:`make_voc_like_data`
    are smoother than real maps and compress better).

    Each CAM is a stride-8 map, 1–3 Gaussian bumps plus smooth low-resolution noise,
    ReLU, upsampled bilinearly to H×W and divided by its max, stored as
    round(255·cam): weak activations scattered over the whole image, as a
    classifier's, so no box around the object holds them all. The saliency
    map is a steep sigmoid of the strongest CAM: mostly 0 or 255, with soft
    edges.

    Returns:
        tuple[np.ndarray, np.ndarray]: ``num_cams``×H×W uint8 CAMs and the
        H×W uint8 saliency map.
    """
    import cv2
    lh, lw = -(-h // 8) + 1, -(-w // 8) + 1
    yy, xx = np.mgrid[:lh, :lw].astype(np.float32)
    cams = []
    for _ in range(num_cams):
        # noise correlated over a few cells, as a stride-8 feature map's receptive field
        low = cv2.GaussianBlur(0.3 * rng.standard_normal((lh, lw)).astype(np.float32), (0, 0), 1)
        for _ in range(int(rng.integers(1, 4))):
            cy, cx, s = rng.uniform(0, lh), rng.uniform(0, lw), rng.uniform(2, 8)
            low += rng.uniform(0.5, 1) * np.exp(-((yy - cy)**2 + (xx - cx)**2) / (2 * s * s))
        cam = cv2.resize(np.maximum(low, 0), (w, h), interpolation=cv2.INTER_LINEAR)
        cams.append(cam / (cam.max() + 1e-5))
    cams = np.stack(cams)
    sal = 255 / (1 + np.exp(-25 * (cams.max(0) - 0.4)))
    return np.round(cams * 255).astype(np.uint8), np.round(sal).astype(np.uint8)


def make_voc_file_layout(root: str,
                         num_train: int = 10582,
                         num_val: int = 1449,
                         num_gt_subset: int = 0,
                         num_classes: int = 20,
                         seed: int = 0) -> VOCLikeData:
    """The file *layout* of a VOC WSSS set at full size, fast: every file a
    config names (images, val and ``gt_subset`` GT masks, ``bed_png`` CAMs of
    1–3 classes per image, saliency maps), each a few placeholder bytes, not a
    decodable image. For checks that look at names only (``check_data``):
    VOC's 10,582 + 1,449 ids take seconds to write.

    Writes ``ImageSets/Segmentation/{train_aug,val}.txt``,
    ``cls_labels/train_aug.txt`` and, with ``num_gt_subset``, ``gt_subset.txt``
    (the first ids of the training list). Idempotent: a complete layout with the
    same lists is kept. The maps' folders are :class:`VOCLikeData`'s. Returns
    the paths relative to ``root``.
    """
    rng = np.random.default_rng(seed)
    train = tuple(f'gen_{i:05d}' for i in range(num_train))
    val = [f'val_{i:05d}' for i in range(num_val)]
    data = VOCLikeData(root=root, ids=train)
    val_list = osp.join(root, 'ImageSets/Segmentation/val.txt')
    subset = osp.join(root, 'gt_subset.txt')
    if osp.isfile(val_list) and open(val_list).read().split() == val and \
            tuple(open(osp.join(root, data.ann_file)).read().split()) == train and \
            (not num_gt_subset or (osp.isfile(subset) and
                                   tuple(open(subset).read().split()) == train[:num_gt_subset])):
        return data  # complete: the lists are written last
    for d in (data.img_path, 'SegmentationClassAug', data.cam_path, data.sal_path,
              osp.dirname(data.ann_file), osp.dirname(data.cls_label_file)):
        os.makedirs(osp.join(root, d), exist_ok=True)

    def touch(path):
        with open(path, 'wb') as f:
            f.write(b'\0')

    cls_lines = []
    for img_id in train:
        classes = sorted(rng.choice(num_classes, int(rng.integers(1, 4)), replace=False))
        cls_lines.append(' '.join([img_id] + [str(c) for c in classes]))
        touch(osp.join(root, data.img_path, img_id + '.jpg'))
        touch(osp.join(root, data.sal_path, img_id + '.png'))
        for c in classes:
            touch(osp.join(root, data.cam_path, f'{img_id}_{c}.png'))
    for img_id in val + list(train[:num_gt_subset]):
        touch(osp.join(root, data.img_path, img_id + '.jpg'))
        touch(osp.join(root, 'SegmentationClassAug', img_id + '.png'))
    lists = {data.cls_label_file: cls_lines, data.ann_file: train}
    if num_gt_subset:
        lists['gt_subset.txt'] = train[:num_gt_subset]
    lists['ImageSets/Segmentation/val.txt'] = val  # last: marks a complete layout
    for name, lines in lists.items():
        with open(osp.join(root, name), 'w') as f:
            f.write('\n'.join(lines) + '\n')
    return data


def make_classifier_batch(size: int, batch: int, num_classes: int, seed: int = 0) -> dict:
    """A made-up training batch for ``EPSClassifier.train_step``: random uint8
    images, a disc (0 or 255) as each image's saliency map and 1–3 labelled
    classes each, the same for every call with the same arguments.

    Returns:
        dict: ``inputs`` (``batch`` 3×size×size uint8 tensors) and
        ``data_samples`` (``SegDataSample`` with ``gt_cls_label`` (num_classes,)
        and ``gt_saliency`` 1×size×size uint8).
    """
    import torch
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    inputs, samples = [], []
    for _ in range(batch):
        inputs.append(torch.from_numpy(rng.integers(0, 256, (3, size, size), dtype=np.uint8)))
        cy, cx, r = rng.uniform(0.2, 0.8, 3) * size
        sal = ((yy - cy)**2 + (xx - cx)**2 < (0.3 * r + 4)**2).astype(np.uint8) * 255
        label = torch.zeros(num_classes)
        label[rng.choice(num_classes, rng.integers(1, 4), replace=False)] = 1
        sample = SegDataSample(metainfo=dict(img_shape=(size, size), ori_shape=(size, size)))
        sample.set_data(dict(gt_cls_label=label,
                             gt_saliency=PixelData(data=torch.from_numpy(sal[None]))))
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)
