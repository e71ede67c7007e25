"""The end-to-end saliency-guided WSSS demo on the embedded synthetic dataset:
one seed's run of the method study's pipeline (``demo/method_study.py``).

    python demo/wsss_demo.py [--preset default|smoke] [--work-dir work_dirs/demo]
        [--nproc 2] [--force]

Stages (each drives mmwsss's API with the demo's configs, ``demo/configs``):
  1. generate the dataset (:mod:`demo.synthetic`; VOC layout, 3 saliency
     sources) and split its training images into a tuning and a report part;
  2. train the classifier ``demo/configs/cls_synthetic.py`` three ways (plain
     CAM, EPS and IRD with the settings the method study kept) on the
     erroneous saliency source, write their CAM stores
     (:func:`mmwsss.apis.write_cam_store`) and sweep τ per saliency source
     (:class:`mmwsss.evaluation.TauSweep`): τ chosen on the tuning part, mIoU
     read on the report part;
  3. train the segmentor ``demo/configs/seg_synthetic.py`` on IRD's pseudo
     labels with the erroneous source (made on the fly by ``SaliencyPseudoLabel``),
     with 10 % of the training images on GT, and on GT alone; val mIoU;
  4. write the figures and print the tables, and the method study's headline as
     ``docs/method_study.md`` gives it (one seed here cannot rank the methods).
The runs go two at a time, one thread each; each run's mmengine log is in its
work dir (``runs/<name>/job.log``). Finished runs are kept (resume); ``--force``
starts again, removing what the demo wrote in the work dir (``OUTPUTS``), nothing else.
"""
import argparse
import os
import os.path as osp
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)  # the demo package, also when run as a script

from demo.method_study import Plan, best, held_out, read_headline, run_line  # noqa: E402
from demo.runs import TAUS, remove_outputs, run_jobs  # noqa: E402

# demo preset -> the method study's preset (data, iterations)
PRESETS = dict(default='study', smoke='smoke')
# EPS with the setting the method study kept on draw 0 (τ 0.4, COCO's λ 0.9, loss weight 3);
# IRD with mmwsss's defaults, which are the study's (docs/method_study.md)
METHODS = (('cam', None),
           ('eps', dict(type='EPSSaliencyLoss', tau=0.4, lam=0.9, loss_weight=3.0)),
           ('ird', dict(type='IRDSaliencyLoss')))
CLS_SAL = 'SYN_ERRONEOUS'  # the classifiers learn from the erroneous saliency source
STUDY_DOC = osp.join(ROOT, 'docs', 'method_study.md')
# what the demo writes in its work dir: all that --force removes
OUTPUTS = ('runs', 'results', 'lists', 'data', 'grid.png', 'tau_curves.png', 'summary.md')


def banner(msg):
    print(f'\n=== {msg} ===', flush=True)


def parse_args(argv=None):
    from mmwsss.cli import DefaultsHelpFormatter, positive_int
    p = argparse.ArgumentParser(description='End-to-end WSSS demo on the embedded dataset',
                                formatter_class=DefaultsHelpFormatter)
    p.add_argument('--preset', default='default', choices=sorted(PRESETS),
                   help='how much to run: smoke (about a minute) or the full demo (about '
                   '10 minutes on 2 cores)')
    p.add_argument('--work-dir', default=osp.join(ROOT, 'work_dirs', 'demo'))
    p.add_argument('--nproc', type=positive_int, default=2, help='runs at a time (one thread each)')
    p.add_argument('--force', action='store_true',
                   help='start again from nothing: remove what the demo wrote in the work '
                   f"dir ({', '.join(OUTPUTS)}), nothing else")
    return p.parse_args(argv)


def main(argv=None):
    from mmwsss.utils.upstream_noise import filter_upstream_warnings
    filter_upstream_warnings()  # the stack's deprecation notices, named there
    args = parse_args(argv)
    from demo.synthetic import SALIENCY_SOURCES, synthetic_metainfo
    from mmwsss.evaluation import select_tau
    from mmwsss.fileio import CAMStore
    from mmwsss.functional import PseudoLabelRule
    from mmwsss.visualization import (PseudoLabelSource, grid_row_from_store, save_grid_figure,
                                      save_tau_curves)

    t0 = time.time()
    work = osp.abspath(args.work_dir)
    if args.force:
        for path in remove_outputs(work, OUTPUTS):
            print(f'--force: removed {path}', flush=True)
    os.makedirs(work, exist_ok=True)

    banner('1/4 embedded dataset')
    plan = Plan(PRESETS[args.preset], work)
    p = plan.p
    print(f"{p['data']['num_train']} training images of {p['data']['size']} px "
          f"({len(plan.parts['tune'])} tuning, {len(plan.parts['report'])} report), "
          f"{p['data']['num_val']} val; saliency sources {', '.join(SALIENCY_SOURCES)}")

    banner(f'2/4 classifiers (CAM, EPS, EPS++/IRD) on {CLS_SAL} saliency, seed 1; '
           'CAM stores; τ sweeps')
    sal = plan.paths['sal_dirs']
    evals = dict(no_saliency=None, **{src: sal[src] for src in SALIENCY_SOURCES})
    jobs = []
    for name, loss in METHODS:
        job = plan.cls_job(f'demo_{name}', name, {}, 1, evals=evals)
        job['loss'] = loss
        jobs.append(job)
    res = run_jobs(jobs, args.nproc, 'classifiers',
                   lambda j, r: run_line(j, r, ('no_saliency', CLS_SAL)))
    cls = {name: res[j['name']] for (name, _), j in zip(METHODS, jobs)}

    rows, curves, chosen, advice = [], {}, {}, {}
    for name, _ in METHODS:
        for e in evals:
            miou, tau = held_out(cls[name], e)
            s = cls[name]['scores'][e]['report']
            i = TAUS.index(tau)
            choice = select_tau(TAUS, cls[name]['scores'][e]['tune'], 'miss')
            # τ = 0 or 1 is the range's own end; on a flat curve no range helps
            note = ' (flat)' if choice.flat else ' (edge)' if choice.wider else ''
            if note:  # one line per advice, naming its curves
                advice.setdefault(choice.advice(), []).append(f'{name} / {e}')
            rows.append(f"| {name} | {e} | {tau:g}{note} | {miou:.1f} | "
                        f"{s['miou_excl'][i]:.1f} | {s['ignored_share'][i]:.1f} |")
            if e in ('no_saliency', CLS_SAL):
                curves[f'{name} / {e}'] = (list(TAUS), s['miou_miss'])
                chosen[f'{name} / {e}'] = tau

    banner(f'3/4 segmentors: IRD pseudo labels with {CLS_SAL} (0 % GT), with 10 % GT, '
           'and GT alone')
    _, tau = best(cls['ird']['scores'][CLS_SAL]['tune']['miou_miss'])
    pseudo = dict(cam_dir=cls['ird']['cam_dir'], sal_dir=sal[CLS_SAL], tau=tau,
                  mode='saliency')
    seg_jobs = [plan.seg_job(lab, 1, pseudo) for lab in ('pseudo', 'semi', 'gt')]
    seg = run_jobs(seg_jobs, args.nproc, 'segmentors',
                   lambda j, r: f"val mIoU {r['miou']:.1f}")
    seg = {lab: seg[f'seg_{lab}_s1']['miou'] for lab in ('pseudo', 'semi', 'gt')}

    banner('4/4 figures and summary')
    meta = synthetic_metainfo()
    rule = PseudoLabelRule(tau=tau, mode='saliency')
    store = CAMStore(cls['ird']['cam_dir'], 'npz')
    ids = plan.parts['report'][:4]
    cls_of = _image_labels(plan.paths['train_cls_labels'])
    source = PseudoLabelSource(store, rule, sal[CLS_SAL])
    grid_rows = [grid_row_from_store(osp.join(plan.paths['img_dir'], i + '.jpg'), source,
                                     cls_of[i], osp.join(plan.paths['ann_dir'], i + '.png'))
                 for i in ids]
    grid_png = osp.join(work, 'grid.png')
    save_grid_figure(grid_png, grid_rows, meta['classes'], meta['palette'],
                     title=f'IRD / {CLS_SAL} (saliency mode), τ={tau:g}, report part')
    curves_png = osp.join(work, 'tau_curves.png')
    save_tau_curves(curves_png, curves, title='report-part pseudo-label mIoU against τ\n'
                    '(ignored pixels count as misses)', chosen=chosen,
                    chosen_label='τ of the table (chosen on the tuning part)')

    lines = ['Pseudo labels of the report part (τ chosen on the tuning part; "edge": the best '
             'τ is at the end of the grid; "flat": τ changes almost no label):',
             *(f"{'every curve' if len(names) == len(rows) else ', '.join(names)}: "
               f'{text}' for text, names in advice.items()), '',
             '| classifier | saliency at label time | τ | mIoU (ignore = miss) | '
             'mIoU (ignore excluded) | ignored % |', '|---|---|---|---|---|---|', *rows, '',
             '| segmentor FCN-R18 (narrow), val mIoU | mIoU |', '|---|---|',
             f'| IRD pseudo labels with {CLS_SAL}, τ={tau:g} (0 % GT) | {seg["pseudo"]:.1f} |',
             f'| the same + 10 % of the images on GT | {seg["semi"]:.1f} |',
             f'| GT (upper bound) | {seg["gt"]:.1f} |', '',
             f"One seed (preset {args.preset}, {time.time() - t0:.0f} s): differences "
             'between the methods here are not a ranking.']
    try:
        lines.append('Method study (read from docs/method_study.md): ' +
                     read_headline(STUDY_DOC).replace('Headline ', '', 1))
    except (OSError, ValueError) as e:
        lines.append(f'Method study: not available ({e})')
    lines.append(f'figures: {grid_png}, {curves_png}')
    table = '\n'.join(lines)
    with open(osp.join(work, 'summary.md'), 'w') as f:
        f.write(table + '\n')
    print(table)
    return dict(classifiers=cls, seg_pseudo=seg['pseudo'], seg_semi=seg['semi'],
                seg_gt=seg['gt'], tau=tau, grid=grid_png, curves=curves_png, rows=rows)


def _image_labels(path):
    from mmwsss.fileio.labels import parse_cls_label_file
    return parse_cls_label_file(path)


if __name__ == '__main__':
    main()
