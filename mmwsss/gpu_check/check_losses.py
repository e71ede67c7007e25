"""Part c: the ResNet-38 classifier's step with each saliency loss, and the losses' share."""
import math
import os.path as osp
import statistics
import time

from . import runner
from .plan import ROOT
from .report import pct
from .runner import read_part, write_part

CLS_CONFIG = 'configs/eps/ird_resnet38_1xb8-20k_voc12aug-448x448.py'
DRY_CLS_MODEL = {'model.backbone.base_channels': 4, 'model.in_channels': 256}
LOSSES = ('none', 'eps', 'ird', 'ird_literal')


def part_c(checks, part):
    """Runs the worker and judges its steps: every loss finite."""
    log = osp.join(checks.logs, 'c.log')
    run = runner.run_logged(checks.worker + ['--worker', 'c'], log, checks.budget('c'), checks.env)
    got = read_part(checks.args, 'c')
    part['result'] = got
    done = got and all('step_s' in (got.get('variants') or {}).get(v, {}) for v in LOSSES)
    finite = done and all(math.isfinite(got['variants'][v]['loss']) for v in LOSSES)
    part['status'] = 'passed' if run['rc'] == 0 and finite else 'failed'
    if got and got.get('variants', {}).get('ird', {}).get('overhead') is not None:
        v = got['variants']
        part['summary'] = (f"step {v['none']['step_s']:.3g} s without saliency loss; "
                           f"IRD {pct(v['ird']['overhead'])}, literal IRD "
                           f"{pct(v.get('ird_literal', {}).get('overhead'))}, EPS "
                           f"{pct(v.get('eps', {}).get('overhead'))} of the step")
    else:
        part['summary'] = 'no timing'
    checks.finish(part, run, log)


def worker_c(args) -> None:
    """Forward + backward + SGD step of the ResNet-38 classifier per saliency loss,
    interleaved rounds, CUDA synchronised around each step."""
    import torch
    from mmengine.optim import build_optim_wrapper
    from mmseg.registry import MODELS
    from mmseg.utils import register_all_modules

    import mmwsss  # noqa: F401
    from mmwsss.config import load_config
    from mmwsss.models.losses import EPSSaliencyLoss, IRDSaliencyLoss
    from mmwsss.testing import make_classifier_batch
    register_all_modules(init_default_scope=True)
    s = args.sizes
    size, batch, steps, warmup = s['cls_size'], s['cls_batch'], s['cls_steps'], s['cls_warmup']
    cfg = load_config(osp.join(ROOT, CLS_CONFIG))
    cfg.model.backbone.init_cfg = None  # no ImageNet weights offline; the cost is the same
    if args.dry_run:
        cfg.merge_from_dict(DRY_CLS_MODEL)
    cfg.model.data_preprocessor.size = (size, size)
    cuda = torch.cuda.is_available()
    device = 'cuda' if cuda else 'cpu'
    torch.manual_seed(0)
    model = MODELS.build(cfg.model).to(device).train()
    optim = build_optim_wrapper(model, cfg.optim_wrapper)
    losses = dict(none=None, eps=EPSSaliencyLoss(tau=0.4, lam=0.5), ird=IRDSaliencyLoss(),
                  ird_literal=IRDSaliencyLoss(literal=True))
    data = make_classifier_batch(size, batch, cfg.model.num_classes)

    def step(name):
        model.loss_sal = losses[name]
        if cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        t = time.perf_counter()
        log = model.train_step(data, optim)
        if cuda:
            torch.cuda.synchronize()
        dt = time.perf_counter() - t
        peak = torch.cuda.max_memory_allocated() / 2**30 if cuda else None
        return dt, float(log['loss'].detach()), peak

    for name in LOSSES:
        for _ in range(warmup):
            step(name)
    times = {n: [] for n in LOSSES}
    last, peaks = {}, {n: None for n in LOSSES}
    for _ in range(steps):  # interleaved: drift hits every loss alike
        for name in LOSSES:
            dt, loss, peak = step(name)
            times[name].append(dt)
            last[name] = loss
            if peak is not None:
                peaks[name] = max(peaks[name] or 0, peak)
    base = statistics.median(times['none'])
    variants = {}
    for name in LOSSES:
        t = statistics.median(times[name])
        variants[name] = dict(step_s=round(t, 4), steps_s=[round(x, 4) for x in times[name]],
                              overhead=None if name == 'none' else round((t - base) / t, 4),
                              peak_mem_gib=None if peaks[name] is None else round(peaks[name], 3),
                              loss=last[name])
    out = dict(config=CLS_CONFIG, device=torch.cuda.get_device_name() if cuda else 'cpu',
               size=size, batch=batch, steps=steps, warmup=warmup, variants=variants)
    write_part(args, 'c', out)
    print('[gpu_check] c: ' + ', '.join(f"{n} {v['step_s']:.3g} s" for n, v in variants.items()),
          flush=True)
