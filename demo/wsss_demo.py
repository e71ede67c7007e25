"""The end-to-end saliency-guided WSSS demo on the embedded synthetic dataset.

    python demo/wsss_demo.py [--preset default|smoke|large] [--work-dir work_dirs/demo]
        [--force]

Every stage drives mmwsss's API with the demo's configs (``demo/configs``):
  1. generate the dataset (:mod:`demo.synthetic`; VOC layout, 3 saliency sources);
  2. train the classifier ``demo/configs/cls_synthetic.py`` three ways with
     ``Runner.from_cfg(cfg).train()``: plain CAM (no saliency loss), EPS and EPS++
     (IRD loss with PAMR);
  3. write CAM stores with :func:`mmwsss.apis.write_cam_store` (a ``Runner.test()``
     run, as ``tools/make_cams.py``);
  4. sweep τ with :class:`mmwsss.evaluation.TauSweep` per method × saliency source
     (saliency mode; EPS/EPS++ also in no_saliency mode) and pick the best τ;
  5. train the segmentor ``demo/configs/seg_synthetic.py`` on pseudo labels made on
     the fly by ``SaliencyPseudoLabel`` from the best combination, and the same
     segmentor on GT labels as the upper bound (``seg_synthetic_gt.py``) and
     semi-supervised, with 10% of the training images on GT (``seg_synthetic_semi.py``);
     their val mIoU is what ``runner.val()`` returns;
  6. print the summary table and write it with the figures to the work dir.
Stages whose outputs exist are skipped, so an interrupted demo resumes;
``--force`` starts again.
"""
import warnings

# the OpenMMLab stack imports pkg_resources (setuptools < 81); not ours to fix
warnings.filterwarnings('ignore', 'pkg_resources is deprecated', UserWarning)
import argparse
import os
import os.path as osp
import shutil
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)  # the demo package, also when run as a script

# name, saliency loss of the classifier
METHODS = (('cam', None), ('eps', 'EPSSaliencyLoss'), ('ird', 'IRDSaliencyLoss'))
ITERS = dict(smoke=dict(cls=1, seg=1), default=dict(cls=1000, seg=1000),
             large=dict(cls=4000, seg=4000))
TAUS = tuple(round(0.05 * i, 2) for i in range(20))  # 0 ... 0.95
CLS_SAL = 'SYN_ERRONEOUS'  # the classifiers learn from the erroneous saliency source
CONFIGS = osp.join(ROOT, 'demo', 'configs')
CLS_CFG = osp.join(CONFIGS, 'cls_synthetic.py')
SEG_CFG = osp.join(CONFIGS, 'seg_synthetic.py')
SEG_GT_CFG = osp.join(CONFIGS, 'seg_synthetic_gt.py')
SEG_SEMI_CFG = osp.join(CONFIGS, 'seg_synthetic_semi.py')
SEMI_LIST = 'ImageSets/Segmentation/train_semi-10pct.txt'  # as seg_synthetic_semi.py names it


def banner(msg):
    print(f'\n=== {msg} ===', flush=True)


def demo_config(path, data_root, work_dir, iters, options=None):
    """A demo config pointed at the generated data, for ``iters`` iterations."""
    from mmwsss.utils import load_config
    cfg = load_config(path, options)
    for loader in ('train_dataloader', 'val_dataloader', 'cam_dataloader'):
        if cfg.get(loader):
            cfg[loader].dataset.data_root = data_root
    cfg.work_dir = work_dir
    # a visualizer of its own per run (mmengine keeps one instance per name per process)
    cfg.visualizer.name = f'demo_{osp.basename(work_dir)}'
    cfg.train_cfg.max_iters = iters
    cfg.train_cfg.val_interval = iters + 1  # validated once, by runner.val()
    cfg.default_hooks.checkpoint.interval = iters
    cfg.default_hooks.logger.interval = max(1, min(50, iters // 6))
    return cfg


def train(cfg):
    """Train (or find trained); the Runner, its last checkpoint to be loaded."""
    from mmengine.runner import Runner
    ckpt = osp.join(cfg.work_dir, f'iter_{cfg.train_cfg.max_iters}.pth')
    if osp.isfile(ckpt):
        print(f'{ckpt} exists: skipped')
        cfg.load_from = ckpt
        return Runner.from_cfg(cfg), ckpt
    runner = Runner.from_cfg(cfg)
    runner.train()
    return runner, ckpt


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='End-to-end WSSS demo on the embedded dataset')
    p.add_argument('--preset', default='default', choices=sorted(ITERS),
                   help='smoke: under a minute; default: about 24 minutes on 2 cores; '
                   'large: longer')
    p.add_argument('--work-dir', default=osp.join(ROOT, 'work_dirs', 'demo'))
    p.add_argument('--force', action='store_true', help='start again from nothing')
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from mmwsss.visualization import grid_row_from_store, save_grid_figure, save_tau_curves
    from demo.synthetic import PRESETS, SALIENCY_SOURCES, dataset_paths, generate_dataset
    from mmwsss.apis import write_cam_store
    from mmwsss.evaluation import TauSweep, dataset_items, scores_from_confusion
    from mmwsss.fileio import CAMStore, atomic_write, draw_subset
    from mmwsss.functional import PseudoLabelRule

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

    cams, cls_cfg = {}, None
    for name, loss in METHODS:
        # every classifier starts from the same random initialisation (seed 0)
        banner(f'2/6 classifier: {name} (saliency loss {loss}, saliency {CLS_SAL})')
        opts = {'model.saliency_loss': None} if loss is None else \
            {'model.saliency_loss.type': loss}
        cls_cfg = demo_config(CLS_CFG, data, osp.join(work, f'cls_{name}'), iters['cls'],
                              opts)
        if iters['cls'] > 20:
            cls_cfg.param_scheduler[1].end = iters['cls']
        else:
            cls_cfg.param_scheduler = None
        _, ckpt = train(cls_cfg)
        banner(f'3/6 CAMs: {name}')
        cams[name] = osp.join(work, 'cams', name)
        cls_cfg.work_dir = osp.join(work, f'cls_{name}', 'make_cams')
        written, kept = write_cam_store(cls_cfg, ckpt, cams[name])
        print(f'{written} images written, {kept} kept, in {cams[name]}')

    banner('4/6 τ sweeps of the pseudo labels against GT (train split)')
    items, num_classes, _ = dataset_items(cls_cfg.cam_dataloader.dataset)
    results, curves = [], {}
    combos = [(m, s, 'saliency') for m, _ in METHODS for s in SALIENCY_SOURCES]
    combos += [(m, None, 'no_saliency') for m in ('eps', 'ird')]
    for method, src, mode in combos:
        sweep = TauSweep(CAMStore(cams[method], 'npz'), PseudoLabelRule(mode=mode), TAUS,
                         num_classes, paths['sal_dirs'][src] if src else None)
        scores = scores_from_confusion(sweep.run(items, quiet=True))
        # τ chosen with ignored pixels counted as misses: the 'excluded' convention
        # rewards labels that ignore much, which a segmentor then cannot learn from
        best = int(scores['miou_miss'].argmax())
        results.append(dict(method=method, sal=src or '—', mode=mode, tau=TAUS[best],
                            miou=100 * scores['miou_miss'][best],
                            miou_excl=100 * scores['miou_excl'][best],
                            ignored=100 * scores['ignored_share'][best]))
        curves[f'{method} / {src or mode}'] = (list(TAUS), list(100 * scores['miou_miss']))
        print(f"{method} / {src or mode}: best τ={TAUS[best]:g}, "
              f"mIoU {results[-1]['miou']:.1f} (ignore = miss)")

    best = max(results, key=lambda r: r['miou'])
    banner(f"5/6 segmentor on pseudo labels of {best['method']} / {best['sal']} "
           f"({best['mode']}, τ={best['tau']:g}), on GT, and semi-supervised")
    sal = best['sal'] if best['sal'] != '—' else None
    semi_list = osp.join(data, SEMI_LIST)
    if not osp.isfile(semi_list):
        subset = draw_subset([item[0] for item in items], fraction=0.1, seed=0)
        atomic_write(semi_list, lambda f: f.write(('\n'.join(subset) + '\n').encode()))
    seg = {}
    for key, path in (('pseudo', SEG_CFG), ('gt', SEG_GT_CFG), ('semi', SEG_SEMI_CFG)):
        cfg = demo_config(path, data, osp.join(work, f'seg_{key}'), iters['seg'])
        cfg.param_scheduler[0].end = iters['seg']
        ds = cfg.train_dataloader.dataset
        if ds.pseudo_labels:
            ds.data_prefix.update(cam_path=cams[best['method']],
                                  sal_path=sal and paths['sal_dirs'][sal])
            ds.pseudo_label_cfg.update(tau=best['tau'], mode=best['mode'])
        runner, _ = train(cfg)
        seg[key] = runner.val()['mIoU']

    banner('6/6 summary')
    from demo.synthetic import synthetic_metainfo
    meta = synthetic_metainfo()
    train_ids = [item[0] for item in items[:4]]
    cls_of = {item[0]: item[2] for item in items}
    rule = PseudoLabelRule(tau=best['tau'], mode=best['mode'])
    store = CAMStore(cams[best['method']], 'npz')
    rows = [grid_row_from_store(osp.join(paths['img_dir'], i + '.jpg'), store,
                                sal and paths['sal_dirs'][sal], cls_of[i],
                                osp.join(paths['ann_dir'], i + '.png'), rule, title=i)
            for i in train_ids]
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
              f"| {seg['pseudo']:.1f} |",
              f"| FCN-R18 (narrow) | semi: 10% GT + the same pseudo labels "
              f"| {seg['semi']:.1f} |",
              f"| FCN-R18 (narrow) | GT (upper bound) | {seg['gt']:.1f} |",
              '', f"classifiers: {iters['cls']} iterations each, all from the same random "
              f'initialisation (seed 0), on {CLS_SAL} saliency; preset {args.preset}, '
              f'{time.time() - t0:.0f} s', f'figures: {grid_png}, {curves_png}']
    table = '\n'.join(lines)
    with open(osp.join(work, 'summary.md'), 'w') as f:
        f.write(table + '\n')
    print(table)
    return dict(results=results, seg_pseudo=seg['pseudo'], seg_gt=seg['gt'],
                seg_semi=seg['semi'], grid=grid_png,
                curves=curves_png)


if __name__ == '__main__':
    main()
