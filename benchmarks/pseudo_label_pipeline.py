"""Benchmark: pseudo labels made on the fly against precomputed label PNGs.

    python benchmarks/pseudo_label_pipeline.py [--num-images 300] [--rounds 3]

On generated VOC-sized images (500×375, 1–3 classes) it times
(a) the pseudo-label rule alone per image, and
(b) the whole mmseg VOC training pipeline (load, pseudo label, random
    resize/crop/flip, photometric distortion, pack) with labels made on the fly
    by ``SaliencyPseudoLabel``, against the same pipeline reading the
    equivalent precomputed label PNGs with ``LoadAnnotations``,
for the ``bed_png`` and ``npz`` CAM stores. Both pipelines run in the same
process, interleaved over rounds with the same seeds; the ratio is
on-the-fly time / precomputed time (target ≤ 1.15).
"""
import argparse
import os
import os.path as osp
import tempfile
import time

import numpy as np
from PIL import Image
from tqdm import tqdm

import mmwsss  # noqa: F401  (registers the datasets and the transform)
from mmwsss.fileio import (CAMStore, cams_to_unit, read_saliency, save_cams_bed_png,
                           save_cams_npz, save_label_png)
from mmwsss.functional import PseudoLabelRule, binarize_saliency, make_pseudo_label


def generate(root, n, seed=0):
    """VOC layout: JPEGImages, bed_png + npz CAMs, saliency, precomputed labels."""
    rng = np.random.default_rng(seed)
    ids, cls_lines = [], []
    for i in tqdm(range(n), desc='generating images'):
        img_id = f'bench_{i:05d}'
        h, w = (375, 500) if i % 2 == 0 else (500, 375)
        img = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
        classes = sorted(rng.choice(20, size=rng.integers(1, 4), replace=False).tolist())
        yy, xx = np.mgrid[:h, :w].astype(np.float32)
        cams = []
        for _ in classes:
            cy, cx, r = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(60, 200)
            cams.append(np.clip(1 - np.hypot(yy - cy, xx - cx) / r, 0, 1))
        cams = np.stack(cams)
        # Like an SOD model's output: near 0 / 255 with soft edges (a sigmoid of the
        # objects' CAM), smooth rather than per-pixel noise.
        sal = np.round(255 / (1 + np.exp(-12 * (cams.max(0) - 0.3)))).astype(np.uint8)
        Image.fromarray(img).save(osp.join(root, 'JPEGImages', img_id + '.jpg'), quality=90)
        Image.fromarray(sal).save(osp.join(root, 'sal', img_id + '.png'))
        save_cams_bed_png(osp.join(root, 'cam_png'), img_id, classes, cams)
        save_cams_npz(osp.join(root, 'cam_npz', img_id + '.npz'), classes, cams)
        # The equivalent precomputed label, made by the same rule from the stored maps.
        cams_u8, keys = CAMStore(osp.join(root, 'cam_png')).load(img_id, classes, (h, w))
        label = PseudoLabelRule()(cams_u8, keys,
                                  read_saliency(osp.join(root, 'sal', img_id + '.png')))
        save_label_png(osp.join(root, 'labels', img_id + '.png'), label)
        ids.append(img_id)
        cls_lines.append(' '.join([img_id] + [str(c) for c in classes]))
    with open(osp.join(root, 'list.txt'), 'w') as f:
        f.write('\n'.join(ids) + '\n')
    with open(osp.join(root, 'cls.txt'), 'w') as f:
        f.write('\n'.join(cls_lines) + '\n')


def augment():
    return [
        dict(type='RandomResize', scale=(2048, 512), ratio_range=(0.5, 2.0), keep_ratio=True),
        dict(type='RandomCrop', crop_size=(512, 512), cat_max_ratio=0.75),
        dict(type='RandomFlip', prob=0.5),
        dict(type='PhotoMetricDistortion'),
        dict(type='PackSegInputs'),
    ]


def build(root, fmt):
    from mmseg.registry import DATASETS
    from mmseg.utils import register_all_modules
    register_all_modules(init_default_scope=True)
    if fmt == 'precomputed':
        return DATASETS.build(dict(
            type='VOCWSSSDataset', data_root=root, ann_file='list.txt',
            data_prefix=dict(img_path='JPEGImages', seg_map_path='labels'),
            pipeline=[dict(type='LoadImageFromFile'), dict(type='LoadAnnotations')] + augment()))
    return DATASETS.build(dict(
        type='VOCWSSSDataset', data_root=root, ann_file='list.txt', cls_label_file='cls.txt',
        data_prefix=dict(img_path='JPEGImages'), pseudo_labels=True,
        pipeline=[dict(type='LoadImageFromFile'),
                  dict(type='SaliencyPseudoLabel', cam_dir=osp.join(root, f'cam_{fmt}'),
                       sal_dir=osp.join(root, 'sal'),
                       cam_format={'png': 'bed_png', 'npz': 'npz'}[fmt], tau=0.1)] + augment()))


def time_dataset(ds, seed):
    from mmengine.runner import set_random_seed
    set_random_seed(seed)
    t = time.perf_counter()
    for i in range(len(ds)):
        ds[i]
    return (time.perf_counter() - t) / len(ds)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument('--num-images', type=int, default=300)
    p.add_argument('--rounds', type=int, default=3)
    p.add_argument('--work-dir', help='where to generate the images (default: a temp dir)')
    args = p.parse_args()

    tmp = None
    root = args.work_dir
    if root is None:
        tmp = tempfile.TemporaryDirectory()
        root = tmp.name
    for d in ('JPEGImages', 'sal', 'cam_png', 'cam_npz', 'labels'):
        os.makedirs(osp.join(root, d), exist_ok=True)
    if not osp.isfile(osp.join(root, 'cls.txt')):
        generate(root, args.num_images)

    # (a) the rule alone, on maps already in memory
    ids = [ln.split() for ln in open(osp.join(root, 'cls.txt'))]
    maps = []
    for img_id, *cls in ids[:100]:
        cams, keys = CAMStore(osp.join(root, 'cam_npz'), 'npz').load(img_id,
                                                                     [int(c) for c in cls])
        cams = cams_to_unit(cams)
        sal = binarize_saliency(np.asarray(Image.open(osp.join(root, 'sal', img_id + '.png'))))
        maps.append((cams, keys, sal))
    t = time.perf_counter()
    for _ in range(5):
        for cams, keys, sal in maps:
            make_pseudo_label(cams, keys, sal, 0.1)
    rule_ms = (time.perf_counter() - t) / (5 * len(maps)) * 1e3

    # (b) whole pipelines, interleaved rounds, same seed per round
    datasets = {k: build(root, k) for k in ('precomputed', 'png', 'npz')}
    for ds in datasets.values():  # warm the page cache and lazy imports
        for i in range(min(20, len(ds))):
            ds[i]
    times = {k: [] for k in datasets}
    for r in tqdm(range(args.rounds), desc='rounds'):
        for k, ds in datasets.items():
            times[k].append(time_dataset(ds, seed=r))
    med = {k: float(np.median(v)) * 1e3 for k, v in times.items()}

    n = len(datasets['npz'])
    print(f'\nimages: {n} (500×375 / 375×500, 1–3 classes), rounds: {args.rounds}')
    print(f'(a) pseudo-label rule alone: {rule_ms:.2f} ms / image')
    print('(b) VOC training pipeline, median ms / image over rounds:')
    print(f'    precomputed label PNGs : {med["precomputed"]:.2f}')
    for k, name in (('png', 'bed_png'), ('npz', 'npz')):
        print(f'    on the fly, {name:<8}   : {med[k]:.2f}   ratio {med[k] / med["precomputed"]:.3f}')
    if tmp is not None:
        tmp.cleanup()


if __name__ == '__main__':
    main()
