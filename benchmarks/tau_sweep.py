"""Scoring pseudo labels for 20 τ in one pass against 20 single-τ passes.

    python benchmarks/tau_sweep.py [--images 40] [--taus 20] [--cam-format bed_png]
                                   [--k 3] [--runs 3]

Synthetic VOC-sized data (500×375, 1-3 labelled classes, smooth CAMs, a
saliency map and a palette GT per image) is written to a temporary folder.
Both variants score an image as tools/eval_pseudo_labels.py does
(:meth:`mmwsss.evaluation.TauSweep.score`: read GT, CAMs and saliency, apply
the rule, count the confusion): once with the T thresholds, and T times with
one threshold each. Their summed confusion matrices must agree exactly.

Measured under the protocol of ``_protocol.py``: threads pinned to 1, the two
variants interleaved per image, best of k per image, the ratio one pass / T
passes as the median over images of the per-image ratio, the whole run
repeated ``--runs`` times with its spread. Target ratio <= 0.07.
"""
import argparse
import os
import os.path as osp
import sys
import tempfile
from dataclasses import replace

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from _protocol import pin_threads  # noqa: E402

PINNED = pin_threads(1)  # before numpy and OpenCV start their thread pools

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from _protocol import across_runs, format_report, run_protocol  # noqa: E402
from mmwsss.evaluation import TauSweep  # noqa: E402
from mmwsss.fileio import CAMStore, save_cams_bed_png, save_cams_npz  # noqa: E402
from mmwsss.functional import PseudoLabelRule, voc_colormap  # noqa: E402


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
    from mmwsss.cli import positive_int  # counts: every numeric flag here
    p = argparse.ArgumentParser()
    p.add_argument('--images', type=positive_int, default=40)
    p.add_argument('--taus', type=positive_int, default=20)
    p.add_argument('--cam-format', default='bed_png', choices=('bed_png', 'npz'))
    p.add_argument('--k', type=positive_int, default=3, help='repeats per image (best kept)')
    p.add_argument('--runs', type=positive_int, default=3, help='whole runs (spread)')
    a = p.parse_args()
    taus = [round(float(t), 4) for t in np.linspace(0.05, 0.95, a.taus)]
    with tempfile.TemporaryDirectory() as root:
        for d in ('cams', 'sal', 'gt'):
            os.makedirs(osp.join(root, d))
        items = make_data(root, a.images, a.cam_format)
        job = TauSweep(CAMStore(osp.join(root, 'cams'), a.cam_format), PseudoLabelRule(),
                       tuple(taus), 20, osp.join(root, 'sal'))
        singles = [replace(job, taus=(tau, )) for tau in taus]
        one = job.run(items, quiet=True)
        many = np.concatenate([single.run(items, quiet=True) for single in singles])
        assert np.array_equal(one, many), 'one pass and per-τ passes disagree'

        def passes(item):
            for single in singles:
                single.score(item)

        runs = run_protocol(items, {'passes': passes, 'one': job.score}, baseline='passes',
                            k=a.k, runs=a.runs)
    labels = {'passes': f'{a.taus} single-τ passes', 'one': f'one pass, {a.taus} τ'}
    print(f'{a.images} images 500×375, {a.cam_format} CAMs, {a.taus} τ values, best of '
          f'{a.k} per image, {a.runs} runs, threads {PINNED}')
    print(format_report(runs, baseline='passes', unit='ms', scale=1e3, labels=labels))
    r = across_runs(runs, 'ratio')['one']
    print(f'ratio one/many: {r["median"]:.3f} (runs {", ".join(f"{v:.3f}" for v in r["values"])}'
          f', spread {100 * r["spread"]:.1f} %; target <= 0.07)')


if __name__ == '__main__':
    main()
