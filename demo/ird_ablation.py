"""Ablation of the IRD saliency loss on the embedded synthetic dataset.

    python demo/ird_ablation.py [--work-dir work_dirs/ird_ablation]
        [--iters 1000] [--variants NAME ...] [--force]

Each variant trains the demo classifier (``demo/configs/cls_synthetic.py``) with
one saliency loss from the same random initialisation (seed 0) on the erroneous
saliency source, writes its CAMs of the training split, and scores the pseudo
labels against GT for τ in 0, 0.05, ..., 0.95 in ``no_saliency`` mode and in
``saliency`` mode with the same erroneous source (ignored pixels count as
misses). Finished variants are kept (resume); ``--force`` retrains them.
Writes ``ablation.md`` (the table) and ``ablation.json`` to the work dir.
"""
import warnings

# the OpenMMLab stack imports pkg_resources (setuptools < 81); not ours to fix
warnings.filterwarnings('ignore', 'pkg_resources is deprecated', UserWarning)
import argparse
import json
import os
import os.path as osp
import sys
import time
import uuid

import numpy as np

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)  # the demo package, also when run as a script
CLS_CFG = osp.join(ROOT, 'demo', 'configs', 'cls_synthetic.py')
SAL_SOURCE = 'SYN_ERRONEOUS'
TAUS = [round(0.05 * i, 2) for i in range(20)]

_IRD = dict(type='IRDSaliencyLoss')
# name -> (saliency loss, what it shows)
VARIANTS = {
    'cam': (None, 'plain CAM: no saliency loss'),
    'eps': (dict(type='EPSSaliencyLoss'), 'EPS (tau 0.4, lambda 0.5)'),
    'ird_literal': (dict(_IRD, literal=True), 'seed formula as written'),
    'ird': (_IRD, 'project default'),
    'ird_no_floor': (dict(_IRD, max_drop=1.0), 'default, every inconsistent pixel dropped'),
    'ird_no_norm': (dict(_IRD, normalize=False), 'default, raw refined map decides'),
    'ird_map_pamr': (dict(_IRD, refine_scale=None), 'default, PAMR on the map'),
    'ird_full_pamr': (dict(_IRD, refine_scale=1.0), 'default, PAMR at full resolution'),
    'ird_drop0.1': (dict(_IRD, max_drop=0.1), 'default, at most 10% dropped'),
    'ird_drop0.5': (dict(_IRD, max_drop=0.5), 'default, at most 50% dropped'),
    'mse': (dict(_IRD, max_drop=0.0), 'no drop: plain MSE of M_fg to the saliency'),
}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='IRD saliency loss ablation on the demo data')
    p.add_argument('--work-dir', default=osp.join(ROOT, 'work_dirs', 'ird_ablation'))
    p.add_argument('--iters', type=int, default=1000, help='classifier iterations')
    p.add_argument('--variants', nargs='+', default=list(VARIANTS), choices=list(VARIANTS))
    p.add_argument('--force', action='store_true', help='retrain finished variants')
    return p.parse_args(argv)


def build_cfg(data_root, work_dir, loss, iters):
    from mmengine.config import Config
    cfg = Config.fromfile(CLS_CFG)
    for loader in (cfg.train_dataloader, cfg.cam_dataloader):
        loader.dataset.data_root = data_root
        loader.dataset.data_prefix.sal_path = f'wsss_bed/saliency_maps/{SAL_SOURCE}'
    cfg.model.saliency_loss = loss  # replace, not merge
    cfg.work_dir = work_dir
    name = f'ird_ablation_{uuid.uuid4().hex[:8]}'  # one visualizer per Runner in a process
    cfg.visualizer.name = cfg.experiment_name = name
    cfg.train_cfg.max_iters = iters
    cfg.param_scheduler[-1].end = iters
    cfg.default_hooks.checkpoint.interval = iters
    cfg.default_hooks.logger.interval = max(1, min(50, iters // 5))
    return cfg


def train_and_write_cams(cfg, cam_dir):
    """Train, then write the CAMs of the training split as a uint8 npz store."""
    from mmengine.runner import Runner

    from mmwsss.apis import write_cam_store
    Runner.from_cfg(cfg).train()
    cfg.work_dir = osp.join(cfg.work_dir, 'make_cams')
    write_cam_store(cfg, osp.join(osp.dirname(cfg.work_dir),
                                  f'iter_{cfg.train_cfg.max_iters}.pth'), cam_dir)


def best_scores(paths, cam_dir, mode):
    """Best τ by mIoU with ignored pixels as misses, over the training split."""
    from demo.synthetic import NUM_CLASSES
    from mmwsss.evaluation import TauSweep, dataset_items, scores_from_confusion
    from mmwsss.fileio import CAMStore
    from mmwsss.functional import PseudoLabelRule
    from mmengine.config import Config
    cam_ds = Config.fromfile(CLS_CFG).cam_dataloader.dataset
    items, _, _ = dataset_items(dict(cam_ds, data_root=paths['data_root']))
    sweep = TauSweep(CAMStore(cam_dir, 'npz'), PseudoLabelRule(mode=mode), tuple(TAUS),
                     NUM_CLASSES, paths['sal_dirs'][SAL_SOURCE] if mode == 'saliency' else None)
    scores = scores_from_confusion(sweep.run(items, quiet=True))
    i = int(np.nanargmax(scores['miou_miss']))
    return dict(tau=TAUS[i], miou=100 * float(scores['miou_miss'][i]),
                precision=100 * float(scores['mprecision'][i]),
                recall=100 * float(scores['mrecall_miss'][i]))


def main(argv=None):
    args = parse_args(argv)
    import demo.datasets  # noqa: F401  (registers mmwsss and SyntheticWSSSDataset)
    from demo.synthetic import PRESETS, dataset_paths, generate_dataset
    work = osp.abspath(args.work_dir)
    data = osp.join(work, 'data')
    generate_dataset(data, **PRESETS['default'])
    paths = dataset_paths(data)
    res_path = osp.join(work, 'ablation.json')
    results = json.load(open(res_path)) if osp.isfile(res_path) else {}
    for name in args.variants:
        loss, what = VARIANTS[name]
        key = f'{name}@{args.iters}'
        if key in results and not args.force:
            continue
        t0 = time.time()
        cam_dir = osp.join(work, key, 'cams')
        train_and_write_cams(build_cfg(data, osp.join(work, key), loss, args.iters), cam_dir)
        results[key] = dict(variant=name, what=what, loss=loss, iters=args.iters,
                            no_saliency=best_scores(paths, cam_dir, 'no_saliency'),
                            saliency=best_scores(paths, cam_dir, 'saliency'),
                            seconds=round(time.time() - t0))
        with open(res_path + '.tmp', 'w') as f:
            json.dump(results, f, indent=1)
        os.replace(res_path + '.tmp', res_path)
        print(json.dumps(results[key]), flush=True)
    lines = ['| variant | what | iters | no_saliency mIoU (τ) | saliency mIoU (τ) | s |',
             '|---|---|---|---|---|---|']
    for key, r in results.items():
        a, b = r['no_saliency'], r['saliency']
        lines.append(f"| {r['variant']} | {r['what']} | {r['iters']} | {a['miou']:.1f} "
                     f"({a['tau']:g}) | {b['miou']:.1f} ({b['tau']:g}) | {r['seconds']} |")
    table = '\n'.join(lines)
    with open(osp.join(work, 'ablation.md'), 'w') as f:
        f.write(table + '\n')
    print(table)


if __name__ == '__main__':
    main()
