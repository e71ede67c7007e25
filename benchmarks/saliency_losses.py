"""Cost of the saliency losses in a training step on CPU: forward + backward of
``EPSSaliencyLoss`` (the baseline, measured in the same run), the seed-literal IRD
(PAMR on the stride-8 map) and the default IRD (PAMR at half the image resolution).

    python benchmarks/saliency_losses.py [--batch 8] [--crop 448] [--classes 20] [--repeat 3]

VOC's recipe: batch 8, 448×448 crops, stride-8 maps of 56×56 with 21 channels.
"""
import argparse
import time

import torch

from mmwsss.models.losses import EPSSaliencyLoss, IRDSaliencyLoss


def step_seconds(loss, logits, sal, labels, image, repeat):
    best = float('inf')
    for _ in range(repeat + 1):  # the first run warms up
        x = logits.detach().requires_grad_(True)
        t = time.perf_counter()
        loss(x, sal, labels, image).backward()
        best = min(best, time.perf_counter() - t)
    return best


def main():
    from mmwsss.cli import positive_int  # counts: every numeric flag here
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--batch', type=positive_int, default=8)
    p.add_argument('--crop', type=positive_int, default=448)
    p.add_argument('--classes', type=positive_int, default=20)
    p.add_argument('--repeat', type=positive_int, default=3)
    args = p.parse_args()
    g = torch.Generator().manual_seed(0)
    b, h = args.batch, args.crop // 8
    logits = torch.randn(b, args.classes + 1, h, h, generator=g)
    sal = (torch.rand(b, 1, args.crop, args.crop, generator=g) > 0.6).float()
    labels = (torch.rand(b, args.classes, generator=g) > 0.85).float()
    labels[:, 0] = 1
    image = torch.rand(b, 3, args.crop, args.crop, generator=g)
    losses = dict(eps=EPSSaliencyLoss(), ird_literal=IRDSaliencyLoss(literal=True),
                  ird=IRDSaliencyLoss(), ird_half=IRDSaliencyLoss(refine_scale=0.5))
    base = None
    print(f'batch {b}, crop {args.crop}, maps {h}×{h}, {args.classes + 1} channels, '
          f'{torch.get_num_threads()} threads')
    for name, loss in losses.items():
        s = step_seconds(loss, logits, sal, labels, image, args.repeat)
        base = base or s
        print(f'{name:12s} {1000 * s:9.1f} ms / step   ×{s / base:6.1f} of EPS')


if __name__ == '__main__':
    main()
