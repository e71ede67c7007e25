"""DenseCRF in N worker processes against one, as ``tools/test.py --crf`` runs it.

    python benchmarks/dense_crf.py [--part pool test] [--nproc 2] [--images 4]
                                   [--labels 3 21] [--k 2] [--runs 3]

(a) ``pool``: :func:`mmwsss.dense_crf` ('deeplab' preset, 10 iterations) on
    synthetic 500×375 images with smooth class probabilities, through
    :class:`mmwsss.parallel.worker_pool.WorkerPool` (the pool of ``--crf``) with 1
    and with N workers; each item is a group of 2·N images, submitted at once.
(b) ``test``: the whole ``tools/test.py --crf --crf-workers W`` loop
    (``DenseCRFTestLoop`` through mmengine's Runner: network, pool, metric) over
    ``--images`` generated VOC-size images (``mmwsss.testing``) with a tiny FCN
    (21 classes, random weights: the CRF's work does not depend on them), W = 1
    and W = N; each item is one pass over the images.

Measured under the protocol of ``_protocol.py``: threads pinned to 1, the
variants interleaved per item, best of k per item, the ratio N workers / 1
worker as the median of the per-item ratios, the whole run repeated ``--runs``
times with its spread. The speed-up is 1 / that ratio (target >= 1.8 for N = 2
on 2 cores). Beside it: the CPU seconds the workers (and the main process) used
per image, and the cores they got (CPU seconds / wall seconds), which says how
much of the machine other work left. The outputs of 1 and N workers are
asserted identical.
"""
import argparse
import hashlib
import os
import os.path as osp
import resource
import sys
import tempfile
import time

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from _protocol import pin_threads  # noqa: E402

PINNED = pin_threads(1)  # before numpy, OpenCV and torch start their thread pools

import numpy as np  # noqa: E402

from _protocol import across_runs, format_report, run_protocol  # noqa: E402
from mmwsss import dense_crf  # noqa: E402
from mmwsss.parallel.worker_pool import WorkerPool  # noqa: E402


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


def _cpu_of(pids):
    """CPU seconds (user + system) the processes have used so far."""
    tick, total = os.sysconf('SC_CLK_TCK'), 0
    for pid in pids:
        with open(f'/proc/{pid}/stat') as f:
            fields = f.read().rsplit(')', 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / tick


def _digest(arrays):
    return sorted(hashlib.md5(a.tobytes()).hexdigest() for a in arrays)


class _Meter:
    """A variant's CPU and wall seconds over all its calls (not only the best)."""

    def __init__(self):
        self.cpu = self.wall = self.main = 0.0
        self.images = 0

    def add(self, cpu, wall, images, main=0.0):
        self.cpu, self.wall, self.images = self.cpu + cpu, self.wall + wall, \
            self.images + images
        self.main += main  # of cpu, this process's share (the rest: the workers)


def part_pool(args, labels):
    """(a): groups of 2·N images through a pool of 1 and of N workers."""
    group = 2 * args.nproc
    images = make(group * args.groups, labels)
    items = [images[i:i + group] for i in range(0, len(images), group)]
    pools = {w: WorkerPool(_crf, w) for w in (1, args.nproc)}
    meters = {w: _Meter() for w in pools}

    def variant(w):
        def run(item):
            c, t = _cpu_of(pools[w].pids), time.perf_counter()
            results = [pools[w].submit(j) for j in item]
            out = [r.get() for r in results]
            meters[w].add(_cpu_of(pools[w].pids) - c, time.perf_counter() - t, len(item))
            return out
        return run

    try:
        assert _digest(variant(1)(items[0])) == _digest(variant(args.nproc)(items[0]))
        meters = {w: _Meter() for w in pools}
        runs = run_protocol(items, {f'{w}': variant(w) for w in pools}, baseline='1',
                            k=args.k, runs=args.runs, warmup=0)
    finally:
        for p in pools.values():
            p.terminate()
    report(f'(a) dense_crf through WorkerPool, {labels} labels, 500×375, items: '
           f'{args.groups} groups of {group} images', runs, meters, per='group')


def _test_config(root, data, workers):
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(root, 'tiny_fcn.py'))
    cfg.model = dict(type='DenseCRFSegTTAModel', crf='deeplab', module=cfg.model)
    cfg.test_cfg = dict(type='DenseCRFTestLoop', num_workers=workers)
    cfg.test_dataloader.dataset.update(data_root=root, ann_file=data.ann_file,
                                       data_prefix=dict(img_path=data.img_path,
                                                        seg_map_path=data.label_path))
    cfg.work_dir = osp.join(root, f'work_{workers}')
    cfg.randomness = dict(seed=0)  # the same random weights for every W
    cfg.log_level = 'WARNING'
    return cfg


TINY_FCN = """
_base_ = ['mmseg::_base_/models/fcn_r50-d8.py', 'mmseg::_base_/default_runtime.py']
custom_imports = dict(imports=['mmwsss'], allow_failed_imports=False)
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    data_preprocessor=dict(size=(64, 64)), pretrained=None,
    backbone=dict(depth=18, stem_channels=16, base_channels=8, norm_cfg=norm_cfg),
    decode_head=dict(in_channels=64, channels=16, num_classes=21, norm_cfg=norm_cfg),
    auxiliary_head=None)
test_pipeline = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=(64, 64),
                 keep_ratio=True), dict(type='LoadAnnotations'), dict(type='PackSegInputs')]
test_dataloader = dict(batch_size=1, num_workers=0, persistent_workers=False,
                       sampler=dict(type='DefaultSampler', shuffle=False),
                       dataset=dict(type='VOCWSSSDataset', pipeline=test_pipeline))
test_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
env_cfg = dict(cudnn_benchmark=False, mp_cfg=dict(mp_start_method='fork', opencv_num_threads=1),
               dist_cfg=dict(backend='gloo'))
"""


def part_test(args, root):
    """(b): the tools/test.py --crf loop with 1 and with N workers."""
    import logging

    from mmengine.logging import MMLogger
    from mmengine.runner import Runner

    from mmwsss.testing import make_voc_like_data
    data = make_voc_like_data(osp.join(root, 'voc'), num_images=args.images)
    with open(osp.join(root, 'voc', 'tiny_fcn.py'), 'w') as f:
        f.write(TINY_FCN)
    runners, metrics = {}, {}
    for w in (1, args.nproc):
        runners[w] = Runner.from_cfg(_test_config(osp.join(root, 'voc'), data, w))
        MMLogger.get_current_instance().setLevel(logging.WARNING)
    meters = {w: _Meter() for w in runners}

    def cpu():  # (this process, the workers: reaped when the loop ends its pool)
        c, s = (resource.getrusage(who) for who in (resource.RUSAGE_CHILDREN,
                                                    resource.RUSAGE_SELF))
        return s.ru_utime + s.ru_stime, c.ru_utime + c.ru_stime

    def variant(w):
        def run(_):
            (m0, c0), t = cpu(), time.perf_counter()
            metrics[w] = runners[w].test()
            (m1, c1), t1 = cpu(), time.perf_counter()
            meters[w].add(m1 - m0 + c1 - c0, t1 - t, args.images, main=m1 - m0)
        return run

    runs = run_protocol([None] * args.passes, {f'{w}': variant(w) for w in runners},
                        baseline='1', k=args.k, runs=args.runs, warmup=0)
    report(f'(b) tools/test.py --crf loop (DenseCRFTestLoop through the Runner), items: '
           f'{args.passes} pass(es) over {args.images} VOC-size images, 21 labels, tiny FCN',
           runs, meters, per='pass')
    assert metrics[1] == metrics[args.nproc], (metrics[1], metrics[args.nproc])


def report(title, runs, meters, per):
    names = {k: f'{k} worker{"s" if k != "1" else ""}' for k in runs[0]['median']}
    print(f'\n{title}; best of k per {per}; threads {PINNED}')
    print(format_report(runs, baseline='1', unit='s', scale=1, labels=names))
    for name, r in across_runs(runs, 'ratio').items():
        if name != '1':
            print(f'speed-up {name} workers / 1: **{1 / r["median"]:.2f}x** (runs '
                  f'{", ".join(f"{1 / v:.2f}" for v in r["values"])}; spread '
                  f'{100 * r["spread"]:.1f} %)')
    for w, m in meters.items():
        main = f' (this process {m.main / m.images:.2f})' if m.main else ''
        print(f'{w} worker(s), all calls: {m.cpu / m.images:.2f} CPU s / image{main}, '
              f'{m.wall / m.images:.2f} wall s / image, cores in use {m.cpu / m.wall:.2f}')
    print(f'load average at the end: {", ".join(f"{x:.2f}" for x in os.getloadavg())}')


def main():
    from mmwsss.cli import positive_int  # counts: every numeric flag here
    p = argparse.ArgumentParser()
    p.add_argument('--part', nargs='+', default=['pool', 'test'], choices=('pool', 'test'))
    p.add_argument('--nproc', type=positive_int, default=2)
    p.add_argument('--labels', type=positive_int, nargs='+', default=[3, 21], help='(a) labels')
    p.add_argument('--groups', type=positive_int, default=2,
                   help='(a) items: groups of 2·N images')
    p.add_argument('--images', type=positive_int, default=4, help='(b) images per pass')
    p.add_argument('--passes', type=positive_int, default=1, help='(b) items: passes per run')
    p.add_argument('--k', type=positive_int, default=2, help='repeats per item (best kept)')
    p.add_argument('--runs', type=positive_int, default=3, help='whole runs (spread)')
    args = p.parse_args()
    if 'pool' in args.part:
        for labels in args.labels:
            part_pool(args, labels)
    if 'test' in args.part:
        with tempfile.TemporaryDirectory() as root:
            part_test(args, root)


if __name__ == '__main__':
    main()
