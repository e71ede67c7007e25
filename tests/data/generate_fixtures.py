"""Regenerate the tiny VOC-like and COCO-like fixture trees (deterministic).

    python tests/data/generate_fixtures.py

Writes ``tests/data/voc`` (VOC2012 layout + WSSS-BED maps + an npz store) and
``tests/data/coco`` (COCO-14 layout with real instances jsons). The files are
committed; this script documents how they were made.
"""
import json
import os
import os.path as osp
import shutil

import numpy as np
from PIL import Image

ROOT = osp.dirname(osp.abspath(__file__))
VOC_PALETTE = [[0, 0, 0], [128, 0, 0], [0, 128, 0], [128, 128, 0], [0, 0, 128],
               [128, 0, 128], [0, 128, 128], [128, 128, 128], [64, 0, 0], [192, 0, 0],
               [64, 128, 0], [192, 128, 0], [64, 0, 128], [192, 0, 128], [64, 128, 128],
               [192, 128, 128], [0, 64, 0], [128, 64, 0], [0, 192, 0], [128, 192, 0],
               [0, 64, 128]]


def _save_png(path, arr, palette=None):
    os.makedirs(osp.dirname(path), exist_ok=True)
    img = Image.fromarray(arr.astype(np.uint8))
    if palette is not None:
        img = img.convert('P')
        flat = np.zeros((256, 3), np.uint8)
        flat[:len(palette)] = palette
        img.putpalette(flat.reshape(-1).tolist())
    img.save(path)


def _ellipse(h, w, cy, cx, ry, rx):
    yy, xx = np.mgrid[:h, :w]
    return ((yy - cy) / ry)**2 + ((xx - cx) / rx)**2 <= 1


def _scene(rng, h, w, classes):
    """An image with one blob per class, its GT label map and a CAM per class."""
    label = np.zeros((h, w), np.uint8)
    img = rng.integers(90, 140, (h, w, 3)).astype(np.float32)
    cams = {}
    for i, c in enumerate(classes):
        cy, cx = rng.uniform(0.3, 0.7) * h, (i + 0.5) / len(classes) * w
        ry, rx = rng.uniform(0.15, 0.3) * h, 0.4 * w / len(classes)
        m = _ellipse(h, w, cy, cx, ry, rx)
        label[m] = c + 1
        img[m] = np.array(VOC_PALETTE[c + 1], np.float32) * 0.6 + 60
        yy, xx = np.mgrid[:h, :w]
        d = np.sqrt(((yy - cy) / ry)**2 + ((xx - cx) / rx)**2)
        cams[c] = np.clip(1.1 - 0.6 * d, 0, 1)  # peaks inside, fades outside
    img += rng.normal(0, 6, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8), label, cams


def make_voc():
    root = osp.join(ROOT, 'voc')
    shutil.rmtree(root, ignore_errors=True)
    rng = np.random.default_rng(0)
    split = {
        'train_aug': {'2007_000032': [0, 14], '2007_000039': [19], '2008_000002': [11, 14],
                      '2009_000010': [6]},
        'val': {'2007_000033': [0], '2010_000001': [14, 12]},
    }
    sizes = [(48, 64), (40, 56), (56, 48), (48, 48), (44, 60), (52, 52)]
    k = 0
    for name, items in split.items():
        lines, cls_lines = [], []
        for img_id, classes in items.items():
            h, w = sizes[k]
            k += 1
            img, label, cams = _scene(rng, h, w, classes)
            if img_id == '2008_000002':
                label[:3, :] = 255  # a strip of VOC's ignore border
            os.makedirs(osp.join(root, 'JPEGImages'), exist_ok=True)
            Image.fromarray(img).save(osp.join(root, 'JPEGImages', img_id + '.jpg'),
                                      quality=95)
            _save_png(osp.join(root, 'SegmentationClassAug', img_id + '.png'), label,
                      VOC_PALETTE)
            # Saliency: the objects' union, softened, with one error per kind.
            sal = np.where((label > 0) & (label < 255), 230, 10).astype(np.uint8)
            sal[:, :4] = 51  # exactly 0.2 * 255: NOT salient (strict threshold)
            sal[-4:, :] = 52  # just above: salient
            _save_png(osp.join(root, 'saliency_maps', 'VOC2012_TEST', img_id + '.png'), sal)
            keys = sorted(cams)
            for c in keys:
                _save_png(osp.join(root, 'activation_maps', 'VOC2012_TEST', f'{img_id}_{c}.png'),
                          np.round(cams[c] * 255))
            os.makedirs(osp.join(root, 'cams_npz'), exist_ok=True)
            np.savez_compressed(osp.join(root, 'cams_npz', img_id + '.npz'),
                                keys=np.array(keys, np.int64),
                                cams=np.stack([cams[c] for c in keys]).astype(np.float16))
            lines.append(img_id)
            cls_lines.append(' '.join([img_id] + [str(c) for c in classes]))
        os.makedirs(osp.join(root, 'ImageSets', 'Segmentation'), exist_ok=True)
        with open(osp.join(root, 'ImageSets', 'Segmentation', name + '.txt'), 'w') as f:
            f.write('\n'.join(lines) + '\n')
        os.makedirs(osp.join(root, 'cls_labels'), exist_ok=True)
        with open(osp.join(root, 'cls_labels', name + '.txt'), 'w') as f:
            f.write('\n'.join(cls_lines) + '\n')
    # VOC's own train split (its 1,464 images, here 2): the semi-supervised gt_subset
    with open(osp.join(root, 'ImageSets', 'Segmentation', 'train.txt'), 'w') as f:
        f.write('2007_000032\n2008_000002\n')


COCO_CAT_IDS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23,
                24, 25, 27, 28, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 46, 47,
                48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63, 64, 65, 67, 70,
                72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 82, 84, 85, 86, 87, 88, 89, 90]


def make_coco():
    from mmwsss.datasets.coco_labels import COCO_CLASSES
    from pycocotools import mask as mask_utils
    root = osp.join(ROOT, 'coco')
    shutil.rmtree(root, ignore_errors=True)
    rng = np.random.default_rng(1)
    cats = [dict(id=i, name=n, supercategory='thing') for i, n in zip(COCO_CAT_IDS, COCO_CLASSES)]
    # split -> list of (image number, [(category id, box x, y, w, h, iscrowd)])
    plan = {
        'train2014': [(9, [(1, 4, 6, 20, 30, 0), (18, 30, 10, 24, 20, 0)]),
                      (25, [(90, 10, 10, 30, 20, 0), (1, 0, 30, 60, 18, 1)]),
                      (30, []),  # no instance: left out of WSSS training
                      (34, [(62, 5, 5, 40, 38, 0), (47, 15, 15, 10, 10, 0)])],
        'val2014': [(42, [(1, 10, 8, 20, 25, 0)]), (73, [(3, 2, 20, 50, 20, 0)]),
                    (3799, [])],  # no instance, as 367 val2014 images: not in the papers' list
    }
    for split, images in plan.items():
        js = dict(images=[], annotations=[], categories=cats)
        ann_id = 1
        for num, objs in images:
            h, w = 48, 64
            fname = f'COCO_{split}_{num:012d}.jpg'
            img = rng.integers(80, 160, (h, w, 3)).astype(np.uint8)
            for cat, x, y, bw, bh, crowd in objs:
                img[y:y + bh, x:x + bw] = (cat * 37) % 255
            os.makedirs(osp.join(root, split), exist_ok=True)
            Image.fromarray(img).save(osp.join(root, split, fname), quality=95)
            js['images'].append(dict(id=num, file_name=fname, height=h, width=w))
            for cat, x, y, bw, bh, crowd in objs:
                if crowd:
                    m = np.zeros((h, w), np.uint8, order='F')
                    m[y:y + bh, x:x + bw] = 1
                    rle = mask_utils.encode(m)
                    seg = dict(counts=rle['counts'].decode(), size=[h, w])
                else:  # a polygon: the box as a quadrilateral
                    seg = [[x, y, x + bw, y, x + bw, y + bh, x, y + bh]]
                js['annotations'].append(
                    dict(id=ann_id, image_id=num, category_id=cat, segmentation=seg,
                         area=float(bw * bh), bbox=[x, y, bw, bh], iscrowd=crowd))
                ann_id += 1
        os.makedirs(osp.join(root, 'annotations'), exist_ok=True)
        with open(osp.join(root, 'annotations', f'instances_{split}.json'), 'w') as f:
            json.dump(js, f)


if __name__ == '__main__':
    make_voc()
    make_coco()
