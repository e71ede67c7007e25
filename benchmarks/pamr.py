"""PAMR time and peak memory at training sizes on CPU, against the reference
implementation (Araslanov & Roth: B×C×(8·D)×H×W stacks of shifted masks),
measured in the same run; and the IRD loss's share of a ResNet-38 classifier step.

    python benchmarks/pamr.py [--sizes 56 112] [--batch 8] [--classes 21] [--repeat 3]
    python benchmarks/pamr.py --classifier-step 112 --batch 2 [--k 1] [--runs 3]

Each (implementation, size) runs in a fresh process so that its peak resident
memory (ru_maxrss above the process's level before the run) is its own.

``--classifier-step SIZE``: forward + backward + SGD step of the EPS++ classifier
(``configs/eps/ird_resnet38_1xb8-20k_voc12aug-448x448.py``, ResNet-38, random
weights) at SIZE×SIZE with no saliency loss, ``EPSSaliencyLoss``, the default
``IRDSaliencyLoss`` and the literal one, under the protocol of ``_protocol.py``
(threads pinned, the losses interleaved per step, best of k, median, runs with
their spread); each loss's share = (step with it − step without) / step with it.
"""
import argparse
import json
import os.path as osp
import resource
import subprocess
import sys
import time

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from _protocol import pin_threads  # noqa: E402

PINNED = pin_threads(1)  # the same threads for every variant, before torch starts its pool

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

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


def grouped_conv_pamr(x, mask, num_iter=10, dilations=DILATIONS):
    """mmwsss's PAMR with the propagation as one grouped convolution per dilation
    (gathers the 8 neighbours, then a weighted sum): 30 kernels a round instead
    of 49, measured here as the candidate issue 22 named; not adopted."""
    from mmwsss.models.pamr import _NEIGHBOURS, pamr_affinity
    mask = F.interpolate(mask, size=x.shape[-2:], mode='bilinear', align_corners=True)
    weights = pamr_affinity(x, dilations)
    b, c, h, w = mask.shape
    pad = max(dilations)
    k = torch.zeros(8, 1, 3, 3, dtype=mask.dtype)
    for i, (dy, dx) in enumerate(_NEIGHBOURS):
        k[i, 0, dy + 1, dx + 1] = 1
    wts = weights.view(b, 1, len(dilations), 8, h, w)
    for _ in range(num_iter):
        mp = F.pad(mask, [pad] * 4, mode='replicate').view(b * c, 1, h + 2 * pad, w + 2 * pad)
        out = 0
        for i, d in enumerate(dilations):
            o = pad - d
            nb = F.conv2d(mp[..., o:o + h + 2 * d, o:o + w + 2 * d], k, dilation=d)
            out = out + (nb.view(b, c, 8, h, w) * wts[:, :, i]).sum(2)
        mask = out
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
    elif impl == 'grouped_conv':
        fn = lambda: grouped_conv_pamr(x, m)  # noqa: E731
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


def classifier_share(size, batch, k, runs, steps):
    """The saliency losses' share of a ResNet-38 classifier step on this CPU."""
    from mmengine.optim import build_optim_wrapper
    from mmseg.registry import MODELS
    from mmseg.utils import register_all_modules

    import mmwsss  # noqa: F401
    from _protocol import across_runs, format_report, run_protocol
    from mmwsss.config import load_config
    from mmwsss.models.losses import EPSSaliencyLoss, IRDSaliencyLoss
    from mmwsss.testing import make_classifier_batch
    register_all_modules(init_default_scope=True)
    root = osp.dirname(osp.dirname(osp.abspath(__file__)))
    cfg = load_config(osp.join(root, 'configs/eps/ird_resnet38_1xb8-20k_voc12aug-448x448.py'))
    cfg.model.backbone.init_cfg = None  # no ImageNet weights offline; the cost is the same
    cfg.model.data_preprocessor.size = (size, size)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model).train()
    optim = build_optim_wrapper(model, cfg.optim_wrapper)
    losses = dict(none=None, eps=EPSSaliencyLoss(tau=0.4, lam=0.5), ird=IRDSaliencyLoss(),
                  ird_half=IRDSaliencyLoss(refine_scale=0.5),
                  ird_literal=IRDSaliencyLoss(literal=True))
    data = make_classifier_batch(size, batch, cfg.model.num_classes)

    def step(name):
        def run(_):
            model.loss_sal = losses[name]
            model.train_step(data, optim)
        return run

    res = run_protocol(list(range(steps)), {n: step(n) for n in losses}, baseline='none',
                       k=k, runs=runs, warmup=1)
    print(f'ResNet-38 classifier step, {size}×{size}, batch {batch}, CPU, '
          f'{torch.get_num_threads()} thread(s); best of {k} per step, {steps} steps, {runs} runs')
    print(format_report(res, baseline='none', unit='s', scale=1))
    rat = across_runs(res, 'ratio')
    for n in losses:
        if n != 'none':
            shares = [1 - 1 / v for v in rat[n]['values']]
            print(f'{n}: {100 * (1 - 1 / rat[n]["median"]):.1f} % of the step (runs '
                  f'{", ".join(f"{100 * s:.1f}" for s in shares)} %)')


def main():
    from mmwsss.cli import positive_int  # counts: every numeric flag here
    p = argparse.ArgumentParser()
    p.add_argument('--sizes', type=positive_int, nargs='+', default=[56, 112])
    p.add_argument('--batch', type=positive_int, default=8)
    p.add_argument('--classes', type=positive_int, default=21)
    p.add_argument('--repeat', type=positive_int, default=5)
    p.add_argument('--impls', nargs='+', default=['reference', 'mmwsss'],
                   choices=('reference', 'mmwsss', 'grouped_conv'))
    p.add_argument('--child', nargs=2, help=argparse.SUPPRESS)
    p.add_argument('--classifier-step', type=positive_int, metavar='SIZE',
                   help='time the losses in a ResNet-38 classifier step at SIZE×SIZE instead')
    p.add_argument('--k', type=positive_int, default=1,
                   help='--classifier-step: best of k per step')
    p.add_argument('--runs', type=positive_int, default=3, help='--classifier-step: whole runs')
    p.add_argument('--steps', type=positive_int, default=3, help='--classifier-step: steps per run')
    a = p.parse_args()
    if a.classifier_step:
        classifier_share(a.classifier_step, a.batch, a.k, a.runs, a.steps)
        return
    if a.child:
        print(json.dumps(run_one(a.child[0], int(a.child[1]), a.batch, a.classes, a.repeat)))
        return
    print(f'PAMR, B={a.batch}, C={a.classes}, 10 iterations, dilations {DILATIONS}, '
          f'{torch.get_num_threads()} threads, CPU')
    print(f'{"size":>8} {"impl":>12} {"time (s)":>9} {"peak MiB":>9}')
    for size in a.sizes:
        res = {}
        for impl in a.impls:
            cmd = [sys.executable, __file__, '--child', impl, str(size), '--batch',
                   str(a.batch), '--classes', str(a.classes), '--repeat', str(a.repeat)]
            res[impl] = json.loads(subprocess.check_output(cmd).decode().strip().splitlines()[-1])
            r = res[impl]
            print(f'{size:>4}x{size:<3} {impl:>12} {r["time_s"]:9.3f} {r["peak_mib"]:9.1f}')
        ref = res[a.impls[0]]
        for impl in a.impls[1:]:
            new = res[impl]
            assert abs(ref['checksum'] - new['checksum']) < 1e-3 * abs(ref['checksum']), (ref, new)
            print(f'{"":>8} ratio {impl}/{a.impls[0]}: time {new["time_s"] / ref["time_s"]:.2f}, '
                  f'peak memory {new["peak_mib"] / max(ref["peak_mib"], 1e-9):.2f}')


if __name__ == '__main__':
    main()
