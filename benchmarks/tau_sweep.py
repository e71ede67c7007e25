"""Scoring pseudo labels for 20 τ in one pass against 20 single-τ passes.

    python benchmarks/tau_sweep.py [--images 40] [--taus 20] [--cam-format bed_png]

Synthetic VOC-sized data (500×375, 1-3 labelled classes, smooth CAMs, a
saliency map and a palette GT per image) is written to a temporary folder;
both runs use :class:`mmwsss.evaluation.TauSweep`, as tools/eval_pseudo_labels.py
does (read inputs, apply the rule, accumulate confusion matrices), and must
agree exactly.
Target ratio (one pass / T passes) <= 0.2.
"""
import argparse
import os.path as osp
import tempfile
import time
from dataclasses import replace

import numpy as np
from PIL import Image

from mmwsss.evaluation import TauSweep
from mmwsss.fileio import CAMStore, save_cams_bed_png, save_cams_npz
from mmwsss.functional import PseudoLabelRule, voc_colormap


def make_data(root, n, fmt, h=375, w=500, seed=0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:h, :w]
    items = []
    pal = np.asarray(voc_colormap(256), np.uint8).reshape(-1)
    for i in range(n):
        img_id = f'img_{i:04d}'
        classes = sorted(rng.choice(20, size=rng.integers(1, 4), replace=False).tolist())
        gt = np.zeros((h, w), np.uint8)
        cams, sal = [], np.zeros((h, w))
        for c in classes:
            cy, cx = rng.uniform(0.2, 0.8) * h, rng.uniform(0.2, 0.8) * w
            ry, rx = rng.uniform(0.1, 0.3) * h, rng.uniform(0.1, 0.3) * w
            d = np.sqrt(((yy - cy) / ry)**2 + ((xx - cx) / rx)**2)
            gt[d <= 1] = c + 1
            cams.append(np.clip(1.2 - 0.7 * d + rng.normal(0, 0.05, d.shape), 0, 1))
            sal = np.maximum(sal, np.clip(1.5 - d, 0, 1))
        gt[(np.abs(yy - h / 2) < 2)] = 255  # some ignored GT pixels
        if fmt == 'npz':
            save_cams_npz(osp.join(root, 'cams', img_id + '.npz'), classes, np.stack(cams))
        else:
            save_cams_bed_png(osp.join(root, 'cams'), img_id, classes, np.stack(cams))
        Image.fromarray((sal * 255).astype(np.uint8)).save(osp.join(root, 'sal', img_id + '.png'))
        g = Image.fromarray(gt, mode='P')
        g.putpalette(pal.tolist())
        g.save(osp.join(root, 'gt', img_id + '.png'))
        items.append((img_id, osp.join(root, 'gt', img_id + '.png'), classes))
    return items


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--images', type=int, default=40)
    p.add_argument('--taus', type=int, default=20)
    p.add_argument('--cam-format', default='bed_png', choices=('bed_png', 'npz'))
    a = p.parse_args()
    taus = [round(float(t), 4) for t in np.linspace(0.05, 0.95, a.taus)]
    with tempfile.TemporaryDirectory() as root:
        import os
        for d in ('cams', 'sal', 'gt'):
            os.makedirs(osp.join(root, d))
        items = make_data(root, a.images, a.cam_format)
        job = TauSweep(CAMStore(osp.join(root, 'cams'), a.cam_format), PseudoLabelRule(),
                       tuple(taus), 20, osp.join(root, 'sal'))
        replace(job, taus=taus[:1]).run(items[:2], quiet=True)  # warm-up (imports, caches)
        t = time.perf_counter()
        one = job.run(items, quiet=True)
        t_one = time.perf_counter() - t
        t = time.perf_counter()
        many = np.stack([replace(job, taus=(tau, )).run(items, quiet=True)[0] for tau in taus])
        t_many = time.perf_counter() - t
    assert np.array_equal(one, many), 'one pass and per-τ passes disagree'
    print(f'{a.images} images 500×375, {a.cam_format} CAMs, {a.taus} τ values')
    print(f'one pass, {a.taus} τ : {t_one:7.3f} s')
    print(f'{a.taus} single-τ passes: {t_many:7.3f} s')
    print(f'ratio one/many: {t_one / t_many:.3f}  (target <= 0.2)')


if __name__ == '__main__':
    main()
