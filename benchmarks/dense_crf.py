"""DenseCRF per VOC-sized image, and N worker processes against 1.

    python benchmarks/dense_crf.py [--images 8] [--nproc 2]

Synthetic 500×375 images with smooth class probability maps (3 and 21 labels),
refined with the 'deeplab' preset (10 iterations) by :func:`mmwsss.dense_crf`,
one image after another and then through :func:`mmwsss.utils.outputs.track_parallel`
with N processes (as the tools run it); outputs asserted identical.
"""
import argparse
import hashlib
import time

import numpy as np

from mmwsss import dense_crf
from mmwsss.utils.outputs import track_parallel


def make(n, labels, h=375, w=500, seed=0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:h, :w] / max(h, w)
    out = []
    for _ in range(n):
        img = (rng.random((h, w, 3)) * 60 + 100).astype(np.uint8)
        logits = np.stack([np.sin(rng.uniform(2, 8) * xx + rng.uniform(0, 6)) *
                           np.cos(rng.uniform(2, 8) * yy) for _ in range(labels)]) * 3
        p = np.exp(logits - logits.max(0))
        out.append((img, (p / p.sum(0)).astype(np.float32)))
    return out


def _crf(job):
    return dense_crf(job[0], job[1], 'deeplab')


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--images', type=int, default=8)
    p.add_argument('--nproc', type=int, default=2)
    args = p.parse_args()
    for labels in (3, 21):
        jobs = make(args.images, labels)
        t0 = time.perf_counter()
        serial = [_crf(j) for j in jobs]
        t1 = time.perf_counter()
        par = list(track_parallel(_crf, jobs, nproc=args.nproc, quiet=True, chunksize=1))
        t2 = time.perf_counter()
        digest = lambda xs: sorted(hashlib.md5(x.tobytes()).hexdigest() for x in xs)  # noqa
        assert digest(serial) == digest(par)  # the same outputs (in any order)
        one, many = (t1 - t0) / len(jobs), (t2 - t1) / len(jobs)
        print(f'{labels:2d} labels: {one:.3f} s / image in 1 process, {many:.3f} s / image '
              f'with {args.nproc} workers: speed-up {one / many:.2f}x')


if __name__ == '__main__':
    main()
