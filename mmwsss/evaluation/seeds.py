"""Several seeds of one config: mean ± std per metric (WSSS-BED reports 3 seeds)."""
import json
import math
import os
import os.path as osp
from typing import Dict, Sequence

METRIC_KEYS = ('mIoU', 'aAcc', 'mAcc')


def last_val_metrics(work_dir: str) -> Dict[str, float]:
    """The last validation metrics a training run logged: the last record with
    a metric in the newest ``<timestamp>/vis_data/scalars.json`` of ``work_dir``
    (the configs validate at the last iteration; no checkpoint is chosen on val)."""
    runs = sorted(d for d in os.listdir(work_dir)
                  if osp.isfile(osp.join(work_dir, d, 'vis_data', 'scalars.json')))
    for run in reversed(runs):
        last = None
        with open(osp.join(work_dir, run, 'vis_data', 'scalars.json')) as f:
            for line in f:
                rec = json.loads(line)
                if any(k in rec for k in METRIC_KEYS):
                    last = rec
        if last is not None:
            return {k: float(v) for k, v in last.items()
                    if k in METRIC_KEYS or k.startswith('IoU.')}
    raise FileNotFoundError(f'{work_dir}: no validation metrics in any vis_data/scalars.json')


def summarize_seeds(work_dirs: Sequence[str]) -> Dict[str, dict]:
    """Per metric: ``mean``, ``std`` (sample standard deviation, n - 1), ``n`` and
    the ``values`` of each work dir (in order); metrics that some run lacks are left
    out."""
    if not work_dirs:
        raise ValueError('no work dirs')
    runs = [last_val_metrics(d) for d in work_dirs]
    keys = [k for k in runs[0] if all(k in r for r in runs)]
    out = {}
    for k in keys:
        vals = [r[k] for r in runs]
        mean = sum(vals) / len(vals)
        std = math.sqrt(sum((v - mean) ** 2 for v in vals) / (len(vals) - 1)) \
            if len(vals) > 1 else 0.0
        out[k] = dict(mean=mean, std=std, n=len(vals), values=vals)
    return out
