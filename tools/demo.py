"""The end-to-end saliency-guided WSSS demo on the embedded synthetic dataset.

    python tools/demo.py [--preset default|smoke|large] [--work-dir work_dirs/demo]
        [--force]

Every stage runs the project's real tools and configs:
  1. generate the dataset (``mmwsss.demo.synthetic``; VOC layout, 3 saliency sources);
  2. train the classifier three ways with ``tools/train.py configs/demo/cls_synthetic.py``:
     plain CAM (no saliency loss), EPS and EPS++ (IRD loss with PAMR);
  3. make CAM stores with ``tools/make_cams.py``;
  4. sweep τ with ``tools/eval_pseudo_labels.py`` per method × saliency source
     (saliency mode; EPS/EPS++ also in no_saliency mode) and pick the best τ;
  5. train the segmentor ``configs/demo/seg_synthetic.py`` on pseudo labels made on
     the fly by ``SaliencyPseudoLabel`` from the best combination, and the same
     segmentor on GT labels as the upper bound (``configs/demo/seg_synthetic_gt.py``);
  6. print the summary table and write it with the figures to the work dir.
Stages whose outputs exist are skipped, so an interrupted demo resumes;
``--force`` starts again.
"""
import argparse
import csv
import json
import os
import os.path as osp
import runpy
import shutil
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)  # tools/ as a package when run as a script

# name, saliency loss (--cfg-options of the classifier config)
METHODS = (('cam', 'None'), ('eps', 'EPSSaliencyLoss'), ('ird', 'IRDSaliencyLoss'))
ITERS = dict(smoke=dict(cls=1, seg=1), default=dict(cls=1000, seg=1000),
             large=dict(cls=4000, seg=4000))
TAUS = [round(0.05 * i, 2) for i in range(20)]  # 0 ... 0.95
CLS_SAL = 'SYN_ERRONEOUS'  # the classifiers learn from the erroneous saliency source
CLS_CFG = osp.join(ROOT, 'configs', 'demo', 'cls_synthetic.py')
SEG_CFG = osp.join(ROOT, 'configs', 'demo', 'seg_synthetic.py')
SEG_GT_CFG = osp.join(ROOT, 'configs', 'demo', 'seg_synthetic_gt.py')


def banner(msg):
    print(f'\n=== {msg} ===', flush=True)


def run_tool(args, env):
    """Run one of the project's tools with its command line, as a user would; in
    this process, which saves a torch + mmseg start-up per step."""
    shown = ' '.join(osp.relpath(a, ROOT) if a.startswith(ROOT) else a for a in args)
    print(f'$ python {shown}', flush=True)
    os.environ.update(env)  # the demo configs read their paths from the environment
    argv = sys.argv
    sys.argv = list(args)
    try:
        runpy.run_path(args[0], run_name='__main__')
    finally:
        sys.argv = argv


def train(cfg, work_dir, iters, env, stage_opts=()):
    ckpt = osp.join(work_dir, f'iter_{iters}.pth')
    if osp.isfile(ckpt):
        print(f'{ckpt} exists: skipped')
        return ckpt
    # a visualizer of its own per run (mmengine keeps one instance per name per process)
    opts = [f'visualizer.name=demo_{osp.basename(work_dir)}',
            f'train_cfg.max_iters={iters}', f'default_hooks.checkpoint.interval={iters}',
            f'default_hooks.logger.interval={max(1, min(50, iters // 6))}', *stage_opts]
    run_tool([osp.join(ROOT, 'tools', 'train.py'), cfg, '--work-dir', work_dir,
              '--cfg-options'] + opts, env)
    return ckpt


def last_val_miou(work_dir):
    """The last validation mIoU logged by mmengine (scalars.json of the newest run)."""
    runs = sorted(d for d in os.listdir(work_dir) if osp.isfile(
        osp.join(work_dir, d, 'vis_data', 'scalars.json')))
    miou = None
    for line in open(osp.join(work_dir, runs[-1], 'vis_data', 'scalars.json')):
        rec = json.loads(line)
        if 'mIoU' in rec:
            miou = rec['mIoU']
    return miou


def read_curve(csv_path):
    with open(csv_path) as f:
        rows = list(csv.DictReader(f))
    return [float(r['tau']) for r in rows], [100 * float(r['miou_miss']) for r in rows]


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='End-to-end WSSS demo on the embedded dataset')
    p.add_argument('--preset', default='default', choices=sorted(ITERS),
                   help='smoke: under a minute; default: about 21 minutes on 2 cores; large: longer')
    p.add_argument('--work-dir', default=osp.join(ROOT, 'work_dirs', 'demo'))
    p.add_argument('--force', action='store_true', help='start again from nothing')
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from mmwsss.demo.figures import grid_row_from_store, save_grid_figure, save_tau_curves
    from mmwsss.demo.synthetic import (PRESETS, SALIENCY_SOURCES, dataset_paths,
                                       generate_dataset, synthetic_metainfo)
    from mmwsss.fileio import CAMStore
    from mmwsss.functional import PseudoLabelRule
    from tools import eval_pseudo_labels

    t0 = time.time()
    work = osp.abspath(args.work_dir)
    if args.force and osp.isdir(work):
        shutil.rmtree(work)
    os.makedirs(work, exist_ok=True)
    iters = ITERS[args.preset]

    banner('1/6 embedded dataset')
    data = osp.join(work, 'data')
    generate_dataset(data, **PRESETS[args.preset])
    paths = dataset_paths(data)
    env = dict(MMWSSS_DEMO_DATA=data, MMWSSS_DEMO_CLS_SAL=CLS_SAL)

    cams = {}
    for name, loss in METHODS:
        # every classifier starts from the same random initialisation (seed 0)
        banner(f'2/6 classifier: {name} (saliency loss {loss}, saliency {CLS_SAL})')
        loss_opt = ('model.saliency_loss=None' if loss == 'None' else
                    f'model.saliency_loss.type={loss}')
        ckpt = train(CLS_CFG, osp.join(work, f'cls_{name}'), iters['cls'], env,
                     [loss_opt] + ([f'param_scheduler.1.end={iters["cls"]}']
                                   if iters['cls'] > 20 else ['param_scheduler=None']))
        banner(f'3/6 CAMs: {name}')
        cams[name] = osp.join(work, 'cams', name)
        run_tool([osp.join(ROOT, 'tools', 'make_cams.py'), CLS_CFG, ckpt, '--out-dir',
                  cams[name]], env)

    banner('4/6 τ sweeps of the pseudo labels against GT (train split)')
    os.environ.update(env)
    results, curves = [], {}
    combos = [(m, s, 'saliency') for m, _ in METHODS for s in SALIENCY_SOURCES]
    combos += [(m, None, 'no_saliency') for m in ('eps', 'ird')]
    for method, src, mode in combos:
        out = osp.join(work, 'sweeps', f'{method}_{src or mode}')
        # τ chosen with ignored pixels counted as misses: the 'excluded' convention
        # rewards labels that ignore much, which a segmentor then cannot learn from
        argv = [CLS_CFG, '--cam-dir', cams[method], '--out-dir', out, '--mode', mode,
                '--select', 'miss', '--taus'] + [str(t) for t in TAUS]
        if src:
            argv += ['--sal-dir', paths['sal_dirs'][src]]
        best = eval_pseudo_labels.main(argv)
        results.append(dict(method=method, sal=src or '—', mode=mode, tau=best['tau'],
                            miou=100 * best['miou_miss'], miou_excl=100 * best['miou_excl'],
                            ignored=100 * best['ignored_share']))
        curves[f'{method} / {src or mode}'] = read_curve(osp.join(out, 'tau_sweep.csv'))

    best = max(results, key=lambda r: r['miou'])
    banner(f"5/6 segmentor on pseudo labels of {best['method']} / {best['sal']} "
           f"({best['mode']}, τ={best['tau']:g}), and on GT")
    seg_env = dict(env, MMWSSS_DEMO_CAM_DIR=cams[best['method']],
                   MMWSSS_DEMO_SAL=best['sal'] if best['sal'] != '—' else SALIENCY_SOURCES[0],
                   MMWSSS_DEMO_TAU=str(best['tau']), MMWSSS_DEMO_MODE=best['mode'])
    seg_opts = [f'param_scheduler.0.end={iters["seg"]}', f'train_cfg.val_interval={iters["seg"]}']
    train(SEG_CFG, osp.join(work, 'seg_pseudo'), iters['seg'], seg_env, seg_opts)
    train(SEG_GT_CFG, osp.join(work, 'seg_gt'), iters['seg'], seg_env, seg_opts)
    seg_pseudo = last_val_miou(osp.join(work, 'seg_pseudo'))
    seg_gt = last_val_miou(osp.join(work, 'seg_gt'))

    banner('6/6 summary')
    meta = synthetic_metainfo()
    train_ids = open(paths['train_list']).read().split()[:4]
    cls_of = {ln.split()[0]: [int(c) for c in ln.split()[1:]]
              for ln in open(paths['train_cls_labels'])}
    sal_dir = paths['sal_dirs'].get(best['sal'])
    store = CAMStore(cams[best['method']], 'npz')
    rule = PseudoLabelRule(tau=best['tau'], mode=best['mode'])
    rows = [grid_row_from_store(osp.join(paths['img_dir'], i + '.jpg'), store, sal_dir,
                                cls_of[i], osp.join(paths['ann_dir'], i + '.png'), rule,
                                title=i) for i in train_ids]
    grid_png = osp.join(work, 'grid.png')
    save_grid_figure(grid_png, rows, meta['classes'], meta['palette'],
                     title=f"{best['method']} / {best['sal']} ({best['mode']}), τ={best['tau']:g}")
    curves_png = osp.join(work, 'tau_curves.png')
    save_tau_curves(curves_png, curves,
                    title='pseudo-label mIoU against τ (ignored pixels count as misses)')

    lines = ['| method | saliency | mode | best τ | pseudo-label mIoU (ignore = miss) | '
             'mIoU (ignore excluded) | ignored % |', '|---|---|---|---|---|---|---|']
    for r in results:
        lines.append(f"| {r['method']} | {r['sal']} | {r['mode']} | {r['tau']:g} | "
                     f"{r['miou']:.1f} | {r['miou_excl']:.1f} | {r['ignored']:.1f} |")
    lines += ['', '| segmentor (val mIoU) | labels | mIoU |', '|---|---|---|',
              f"| FCN-R18 (narrow) | pseudo: {best['method']} / {best['sal']} τ={best['tau']:g} "
              f"| {seg_pseudo:.1f} |",
              f'| FCN-R18 (narrow) | GT (upper bound) | {seg_gt:.1f} |',
              '', f"classifiers: {iters['cls']} iterations each, all from the same random "
              f'initialisation (seed 0), on {CLS_SAL} saliency; preset {args.preset}, '
              f'{time.time() - t0:.0f} s; figures: grid.png, tau_curves.png']
    table = '\n'.join(lines)
    with open(osp.join(work, 'summary.md'), 'w') as f:
        f.write(table + '\n')
    print(table)
    return dict(results=results, seg_pseudo=seg_pseudo, seg_gt=seg_gt, grid=grid_png,
                curves=curves_png)


if __name__ == '__main__':
    main()
