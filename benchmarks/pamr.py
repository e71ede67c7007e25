"""PAMR time and peak memory at training sizes on CPU, against the reference
implementation (Araslanov & Roth: B×C×(8·D)×H×W stacks of shifted masks),
measured in the same run.

    python benchmarks/pamr.py [--sizes 56 112] [--batch 8] [--classes 21] [--repeat 3]

Each (implementation, size) runs in a fresh process so that its peak resident
memory (ru_maxrss above the process's level before the run) is its own.
"""
import argparse
import json
import resource
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

DILATIONS = [1, 2, 4, 8, 12, 24]


def reference_pamr(x, mask, num_iter=10, dilations=DILATIONS):
    """The reference code (1-stage-wseg, models/mods/pamr.py), condensed."""

    def kernel(kind):
        pos = [(i, j) for i in range(3) for j in range(3) if kind == 'std' or (i, j) != (1, 1)]
        w = torch.zeros(len(pos), 1, 3, 3)
        for k, (i, j) in enumerate(pos):
            w[k, 0, i, j] = -1 if kind == 'aff' else 1
            if kind == 'aff':  # centre minus neighbour
                w[k, 0, 1, 1] = 1
        return w

    def local(t, w):
        b, k, h, wd = t.shape
        t = t.reshape(b * k, 1, h, wd)
        out = [F.conv2d(F.pad(t, [d] * 4, mode='replicate'), w, dilation=d) for d in dilations]
        return torch.cat(out, 1).view(b, k, -1, h, wd)

    with torch.no_grad():
        mask = F.interpolate(mask, size=x.shape[-2:], mode='bilinear', align_corners=True)
        std = local(x, kernel('std')).std(2, keepdim=True)
        aff = -local(x, kernel('aff')).abs() / (1e-8 + 0.1 * std)
        aff = aff.mean(1, keepdim=True).softmax(2)
        for _ in range(num_iter):
            mask = (local(mask, kernel('copy')) * aff).sum(2)
    return mask


def run_one(impl, size, batch, classes, repeat):
    torch.manual_seed(0)
    torch.set_num_threads(torch.get_num_threads())
    x = torch.rand(batch, 3, size, size)
    m = torch.rand(batch, classes, size // 2, size // 2).softmax(1)
    if impl == 'mmwsss':
        from mmwsss.models.pamr import PAMR
        pamr = PAMR(10, DILATIONS)
        fn = lambda: pamr(x, m)  # noqa: E731
    else:
        fn = lambda: reference_pamr(x, m)  # noqa: E731
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with torch.no_grad():
        fn()  # warm-up, also the memory peak
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            out = fn()
            times.append(time.perf_counter() - t)
    return dict(impl=impl, size=size, time_s=min(times), peak_mib=peak / 1024,
                checksum=float(out.double().sum()))


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--sizes', type=int, nargs='+', default=[56, 112])
    p.add_argument('--batch', type=int, default=8)
    p.add_argument('--classes', type=int, default=21)
    p.add_argument('--repeat', type=int, default=5)
    p.add_argument('--child', nargs=2, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child:
        print(json.dumps(run_one(a.child[0], int(a.child[1]), a.batch, a.classes, a.repeat)))
        return
    print(f'PAMR, B={a.batch}, C={a.classes}, 10 iterations, dilations {DILATIONS}, '
          f'{torch.get_num_threads()} threads, CPU')
    print(f'{"size":>8} {"impl":>10} {"time (s)":>9} {"peak MiB":>9}')
    for size in a.sizes:
        res = {}
        for impl in ('reference', 'mmwsss'):
            cmd = [sys.executable, __file__, '--child', impl, str(size), '--batch',
                   str(a.batch), '--classes', str(a.classes), '--repeat', str(a.repeat)]
            res[impl] = json.loads(subprocess.check_output(cmd).decode().strip().splitlines()[-1])
            r = res[impl]
            print(f'{size:>4}x{size:<3} {impl:>10} {r["time_s"]:9.3f} {r["peak_mib"]:9.1f}')
        ref, new = res['reference'], res['mmwsss']
        assert abs(ref['checksum'] - new['checksum']) < 1e-3 * abs(ref['checksum']), (ref, new)
        print(f'{"":>8} ratio mmwsss/reference: time {new["time_s"] / ref["time_s"]:.2f}, '
              f'peak memory {new["peak_mib"] / max(ref["peak_mib"], 1e-9):.2f}')


if __name__ == '__main__':
    main()
