"""Score the pseudo labels of a CAM store (+ saliency) against GT over a τ sweep.

    python tools/eval_pseudo_labels.py CONFIG --cam-dir DIR --out-dir OUT
        [--cam-format npz|bed_png|npy_dict|packed] [--sal-dir DIR]
        [--mode saliency|no_saliency] [--taus 0.05 0.1 ... | --tau-range START STOP STEP]
        [--sal-threshold 0.2] [--no-ignore-unassigned] [--select excl|miss]
        [--tune-ids FILE | --tune-fraction F [--seed S]] [--bootstrap N]
        [--split cam_dataloader] [--nproc N] [--allow-pickle] [--cfg-options ...]

The images are those of ``cfg.<split>.dataset`` (default ``cam_dataloader``, the
split tools/make_cams.py writes), read with their GT label maps; the
image-level labels come from the dataset (``cls_label_file``) or from the GT.
Each image is read once and its pseudo labels made for every τ by the same
rule as training (``PseudoLabelRule``, i.e. ``make_pseudo_label``). Every image
must have its CAMs: the missing ones are listed and nothing is scored. Without
``--cam-format``, the format recorded in ``CAM_DIR/meta.json`` by
tools/make_cams.py or tools/pack_maps.py is used (else ``npz``). A ``packed``
store holds the saliency maps: ``--mode saliency`` then takes no ``--sal-dir``
and reads them from the pack, as training does (``best.json`` records
``saliency_source: packed``).

Writes to OUT: ``tau_sweep.csv`` (one row per τ: mIoU with predicted-ignore
pixels excluded (as EPS reports) and counted as misses, mean precision and
recall, share of ignored pixels, per-class IoU), ``miou_vs_tau.png`` and
``best.json`` (the best τ by ``--select`` and its scores; when that τ is the
grid's first or last, ``tau_at_edge`` says which and ``tau_advice`` the wider
range to sweep, also printed; when the score is the same over most of the grid,
``tau_curve_flat`` gives that τ span and ``tau_advice`` points at the classifier
that made the CAMs instead: no τ range fixes saturated CAMs). The results of
an earlier sweep in OUT are replaced only with ``--force``.

Held-out τ: with ``--tune-ids FILE`` (an id list) or ``--tune-fraction F``
(a fraction of the labelled images drawn with ``--seed``), τ is chosen on that
tuning part and its mIoU measured on the other images, with a bootstrap 95 %
interval over those images (``--bootstrap`` resamples, seeded by ``--seed``).
``best.json``'s ``tau`` is then that choice (``tau_selection: held_out``; what
``tools/train.py --pseudo-labels`` applies) and its scores are the report
part's; ``held_out`` names both parts (count and sha256 of their ids) and
gives the interval; ``oracle`` gives the τ and mIoU chosen and scored on every
labelled image, marked as such, so that the optimism shows. Without a tuning
part, τ is chosen and scored on the same images (``tau_selection:
same_images``), an optimistic number, and the tool says so. ``tau_sweep.csv``
and the plot always cover every labelled image.
"""
import argparse
import csv
import json
import os
import os.path as osp

import numpy as np

from mmwsss.cli import refuse_overwrite
from mmwsss.config.loading import DictAction, load_config
from mmwsss.errors import WSSSInputError
from mmwsss.evaluation import (TauSweep, dataset_items, held_out_tau, scores_from_confusion,
                               select_tau, split_for_tuning)
from mmwsss.evaluation.tau_sweep import leaf_datasets
from mmwsss.fileio import (CAM_FORMATS, CAMStore, atomic_write, cls_labels_from_label_map,
                           read_id_list, read_label_png)
from mmwsss.fileio.cam_store import (check_store_format, pack_saliency_problem,
                                     read_store_record, stale_packs)
from mmwsss.functional import MODES, PseudoLabelRule
from mmwsss.outputs import (OutputLock, all_config_input_dirs, check_outside_inputs,  # noqa
                            refuse_launcher)
from mmwsss.visualization import save_tau_curves


def parse_args(argv=None):
    from mmwsss.cli import (DefaultsHelpFormatter, bounded, nonneg_int, positive_int,
                            unit_interval)
    p = argparse.ArgumentParser(
        formatter_class=DefaultsHelpFormatter,
        description='Score pseudo labels against GT for many τ')
    p.add_argument('config', help='config whose <split> dataset lists the images')
    p.add_argument('--cam-dir', required=True, help='CAM store folder')
    p.add_argument('--out-dir', required=True, help='folder for the CSV, plot and best.json')
    p.add_argument('--cam-format', default=None, choices=CAM_FORMATS,
                   help='default: the one CAM_DIR/meta.json records, else npz')
    p.add_argument('--sal-dir', default=None,
                   help='saliency maps (mode saliency; not with a packed store, which holds them)')
    p.add_argument('--mode', default='saliency', choices=MODES)
    g = p.add_mutually_exclusive_group()
    g.add_argument('--taus', type=unit_interval, nargs='+', help='thresholds to score')
    g.add_argument('--tau-range', type=unit_interval, nargs=3, metavar=('START', 'STOP', 'STEP'),
                   help='thresholds START, START+STEP, ... <= STOP')
    p.add_argument('--sal-threshold', type=unit_interval, default=None,
                   help='saliency above this is salient (default 0.2; mode saliency)')
    p.add_argument('--no-ignore-unassigned', action='store_true',
                   help='salient background pixels stay background (not 255)')
    p.add_argument('--select', default='excl', choices=('excl', 'miss'),
                   help='convention for the best τ: predicted-ignore pixels excluded (EPS) '
                   'or counted as misses')
    p.add_argument('--max-ignored', type=unit_interval, default=0.5,
                   help='a τ whose labels leave more than this share of the pixels ignored '
                   'cannot be the best (the excl convention would reward ignoring)')
    t = p.add_mutually_exclusive_group()
    t.add_argument('--tune-ids', metavar='FILE',
                   help='choose τ on these labelled images (an id list) and report the mIoU '
                   'on the others (default: chosen and scored on the same images)')
    t.add_argument('--tune-fraction', metavar='F',
                   type=bounded(float, lambda v: 0 < v < 1, 'a number in (0, 1)'),
                   help='or on this fraction of the labelled images, drawn with --seed')
    p.add_argument('--seed', type=nonneg_int, default=0,
                   help='seed of the --tune-fraction draw and of the bootstrap')
    p.add_argument('--bootstrap', type=positive_int, default=1000,
                   help='resamples of the report images for the held-out 95 %% interval')
    p.add_argument('--split', default='cam_dataloader',
                   help='config entry whose dataset lists the images')
    p.add_argument('--crf', nargs='?', const='psa', choices=('psa', 'deeplab'),
                   help='refine the CAM-only label of each τ with DenseCRF (default preset '
                   'psa, as PSA/IRN refine theirs; --mode no_saliency; slow: one CRF per '
                   'image and τ, so give few --taus)')
    p.add_argument('--nproc', type=positive_int, default=1, help='worker processes')
    p.add_argument('--force', action='store_true',
                   help='overwrite the results of an earlier sweep in --out-dir')
    p.add_argument('--allow-pickle', action='store_true', help='needed for npy_dict stores')
    p.add_argument('--cfg-options', nargs='+', action=DictAction,
                   help='override config settings (key=value)')
    args = p.parse_args(argv)
    if args.tau_range is not None:
        start, stop, step = args.tau_range
        if not (np.isfinite(args.tau_range).all() and step > 0 and start <= stop):
            p.error(f'--tau-range START STOP STEP needs START <= STOP and STEP > 0, got '
                    f'{args.tau_range}')
    if args.taus is None:
        start, stop, step = args.tau_range or (0.05, 0.95, 0.05)
        args.taus = [round(float(t), 6) for t in np.arange(start, stop + step / 2, step)]
    bad = [t for t in args.taus if not np.isfinite(t) or not 0 <= t <= 1]
    if bad:
        p.error(f'τ must be a number in [0, 1]; got {bad}')
    if not 0 <= args.max_ignored <= 1:
        p.error(f'--max-ignored must be in [0, 1], got {args.max_ignored}')
    if args.crf and args.mode != 'no_saliency':
        p.error('--crf refines CAM-only labels: use it with --mode no_saliency')
    recorded = read_store_record(args.cam_dir) or {}
    if args.cam_format is not None and recorded.get('cam_format') not in (None, args.cam_format):
        p.error(f'--cam-format {args.cam_format}, but {args.cam_dir}/meta.json records '
                f"{recorded['cam_format']} (leave --cam-format out to use it)")
    args.cam_format = args.cam_format or recorded.get('cam_format') or 'npz'
    # a packed store's files hold the saliency maps, as training reads them
    packed = args.cam_format == 'packed'
    if packed and args.sal_dir is not None:
        p.error(f"--sal-dir: the packed store {args.cam_dir} holds each image's saliency map "
                '(training reads those); leave --sal-dir out')
    if args.mode == 'saliency' and args.sal_dir is None and not packed:
        p.error('--sal-dir is required with --mode saliency (but with a packed store, whose '
                'files hold the saliency maps)')
    problem = pack_saliency_problem(args.cam_dir, args.mode) if packed else None
    if problem:
        p.error(f'--mode: {problem}')
    args.pack_sal_dir = recorded.get('sal_dir') if packed else None
    if args.mode == 'no_saliency':  # flags that would be silently unread
        given = [f for f, v in (('--sal-dir', args.sal_dir),
                                ('--sal-threshold', args.sal_threshold),
                                ('--no-ignore-unassigned', args.no_ignore_unassigned or None))
                 if v is not None]
        if given:
            p.error(f'{" and ".join(given)} apply to --mode saliency only')
    if args.sal_threshold is None:
        args.sal_threshold = 0.2
    if not (np.isfinite(args.sal_threshold) and 0 <= args.sal_threshold <= 1):
        p.error(f'--sal-threshold must be a number in [0, 1], got {args.sal_threshold}')
    return args


def build_items(cfg, split):
    """(img_id, gt path, classes or None) of the split, GT kept."""
    if split not in cfg or cfg[split] is None:
        raise SystemExit(f'the config has no {split!r} entry')
    try:
        return dataset_items(cfg[split]['dataset'])
    except ValueError as e:
        raise SystemExit(f'{split}.dataset: {e}') from e


def split_lists(dataset_cfg):
    """The list file(s) of the images scored (those of every wrapped dataset)."""
    lists = [d.get('ann_file') or d.get('cls_label_file') for d in leaf_datasets(dataset_cfg)]
    return lists[0] if len(lists) == 1 else lists


def missing_cams(items, store, num_classes):
    missing = []
    for img_id, gt_path, cls, *_ in items:
        if store.cam_format == 'bed_png' and cls is None:
            cls = cls_labels_from_label_map(read_label_png(gt_path, img_id, 'GT label map'),
                                            num_classes)
        missing += [p for p in store.paths(img_id, cls or ()) if not osp.isfile(p)]
    return missing


def _per_class(names, values):
    return {c: (None if np.isnan(v) else float(v)) for c, v in zip(names, values)}


# what a sweep writes into --out-dir
RESULT_FILES = ('tau_sweep.csv', 'best.json', 'miou_vs_tau.png')


def _scores_at(scores, i, select, class_names):
    return dict(miou=float(scores[f'miou_{select}'][i]),
                miou_excl=float(scores['miou_excl'][i]),
                miou_miss=float(scores['miou_miss'][i]),
                precision=float(scores['mprecision'][i]),
                recall_excl=float(scores['mrecall_excl'][i]),
                ignored_share=float(scores['ignored_share'][i]),
                per_class_iou=_per_class(class_names, scores[f'iou_{select}'][i]),
                per_class_precision=_per_class(class_names, scores['precision'][i]),
                per_class_recall=_per_class(class_names, scores[f'recall_{select}'][i]))


def write_outputs(out_dir, taus, scores, class_names, select, meta, max_ignored=1.0,
                  held_out=None):
    """Write the CSV (every labelled image), best.json and the plot.

    ``held_out`` (:func:`~mmwsss.evaluation.held_out_tau`'s result): τ and its
    scores come from the tuning and report parts; None: τ is chosen and scored
    on every image of ``scores`` (optimistic, and best.json says so).
    """
    os.makedirs(out_dir, exist_ok=True)
    key = f'miou_{select}'
    rows = []
    header = ['tau', 'miou_excl', 'miou_miss', 'precision', 'recall_excl', 'recall_miss',
              'ignored_share'] + [f'{m}_{c}' for m in ('iou', 'precision', 'recall')
                                  for c in class_names]
    for i, tau in enumerate(taus):
        rows.append([tau, scores['miou_excl'][i], scores['miou_miss'][i],
                     scores['mprecision'][i], scores['mrecall_excl'][i],
                     scores['mrecall_miss'][i], scores['ignored_share'][i]] +
                    list(scores['iou_excl'][i]) + list(scores['precision'][i]) +
                    list(scores['recall_excl'][i]))

    def fmt(v):
        return f'{v:.6f}' if isinstance(v, (float, np.floating)) else str(v)

    def write_csv(f):
        import io
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator='\n')
        w.writerow(header)
        for r in rows:
            w.writerow([r[0]] + [fmt(float(v)) for v in r[1:]])
        f.write(buf.getvalue().encode())

    atomic_write(osp.join(out_dir, 'tau_sweep.csv'), write_csv)
    # a τ whose labels ignore (nearly) everything scores well under 'excl' and
    # teaches a segmentor nothing: it may not win. The first best on ties, flagged
    # when it is the grid's first or last τ, or when the curve is flat (then the
    # CAMs, not the range, are the cause)
    if held_out is None:
        try:
            choice = select_tau(taus, scores, select, max_ignored)
        except ValueError:
            raise SystemExit(f'every τ leaves more than {max_ignored:.0%} of the pixels ignored '
                             '(see tau_sweep.csv): raise --max-ignored or check the inputs')
        at = _scores_at(scores, choice.index, select, class_names)
        selection = dict(tau_selection='same_images',
                         tau_note=f"τ chosen and scored on the same {meta.get('num_images')} "
                         'images: an optimistic number (give --tune-ids or --tune-fraction '
                         'for a held-out one)')
    else:
        choice = held_out['choice']
        at = _scores_at(held_out['scores'], choice.index, select, class_names)
        selection = dict(tau_selection='held_out',
                         tau_note=f"τ chosen on {held_out['tune']['num_images']} tuning images, "
                         f"scored on the other {held_out['report']['num_images']}",
                         held_out=dict(tune=held_out['tune'], report=held_out['report']),
                         oracle=held_out['oracle'])
    best = choice.index
    summary = dict(meta, tau=float(taus[best]), select=select, **selection,
                   tau_at_edge=choice.edge, tau_advice=choice.advice() or None,
                   tau_curve_flat=list(choice.flat) if choice.flat else None, **at)
    data = json.dumps(summary, indent=2).encode()
    atomic_write(osp.join(out_dir, 'best.json'), lambda f: f.write(data))

    # the project's one plotting style (mmwsss.visualization): the chosen τ starred on
    # both curves, each curve's own best ringed where it is another τ
    curves = {'ignore excluded': (taus, 100 * scores['miou_excl']),
              'ignore as miss': (taus, 100 * scores['miou_miss'])}
    if held_out is None:
        title = (f'chosen τ={taus[best]:g}: {100 * scores[key][best]:.1f} mIoU ({select}; '
                 'chosen on the same images: optimistic)')
    else:
        lo, hi = held_out['report']['ci95']
        title = (f"held-out τ={taus[best]:g}: {100 * at['miou']:.1f} [{100 * lo:.1f}, "
                 f"{100 * hi:.1f}] mIoU ({select}) on the report part; curves: all images")
    save_tau_curves(osp.join(out_dir, 'miou_vs_tau.png'), curves, title=title,
                    chosen={name: taus[best] for name in curves},
                    chosen_label=f'chosen τ (best.json: {select}, at most '
                    f'{max_ignored:.0%} ignored)')
    return summary


def main(argv=None):
    args = parse_args(argv)
    refuse_launcher('eval_pseudo_labels')
    check_outside_inputs(args.out_dir, {'CAM store (--cam-dir)': args.cam_dir,
                                        'saliency folder (--sal-dir)': args.sal_dir})
    cfg = load_config(args.config, args.cfg_options)
    # nor among any split's images, GT or maps (the val GT folder holds <id>.png too)
    check_outside_inputs(args.out_dir, all_config_input_dirs(cfg))
    # an earlier sweep's results are replaced only on request, before any work
    for name in RESULT_FILES:
        refuse_overwrite(osp.join(args.out_dir, name), args.force)
    items, num_classes, class_names = build_items(cfg, args.split)
    check_store_format(args.cam_dir, args.cam_format)
    store = CAMStore(args.cam_dir, args.cam_format, args.allow_pickle)
    rule = PseudoLabelRule(mode=args.mode, sal_threshold=args.sal_threshold,
                           ignore_unassigned=not args.no_ignore_unassigned)
    missing = missing_cams(items, store, num_classes)
    if missing:
        shown = '\n  '.join(missing[:20])
        more = f'\n  ... and {len(missing) - 20} more' if len(missing) > 20 else ''
        raise WSSSInputError(f'{len(missing)} CAM file(s) missing for the {len(items)} '
                             f'images of {args.split}:\n  {shown}{more}', path=args.cam_dir)
    stale = stale_packs(args.cam_dir, [i[0] for i in items]) if args.cam_format == 'packed' \
        else []
    if stale:
        more = f'\n  ... and {len(stale) - 20} more' if len(stale) > 20 else ''
        raise WSSSInputError(f'{len(stale)} pack(s) are stale (their source maps changed since '
                             'packing): rerun tools/pack_maps.py with the options that made '
                             'it:\n  ' + '\n  '.join(stale[:20]) + more, path=args.cam_dir)
    # one sweep per folder, from start to the last file: two would leave one's CSV
    # beside the other's best.json
    with OutputLock(args.out_dir):
        summary = _sweep_and_write(args, cfg, items, num_classes, class_names, store, rule)
    if summary['tau_selection'] == 'held_out':
        h, o = summary['held_out'], summary['oracle']
        lo, hi = h['report']['ci95']
        print(f"held-out τ = {summary['tau']:g} (chosen on {h['tune']['num_images']} tuning "
              f"images): mIoU {100 * summary['miou']:.2f} [{100 * lo:.2f}, {100 * hi:.2f}] "
              f"({args.select}, 95 % bootstrap over the {h['report']['num_images']} other "
              f"images); oracle (chosen and scored on all {o['num_images']}, optimistic): "
              f"τ = {o['tau']:g}, {100 * o['miou']:.2f}; results in {args.out_dir}")
    else:
        print(f"best τ = {summary['tau']:g}: mIoU {100 * summary['miou']:.2f} "
              f"({args.select}), chosen and scored on the same {len(items)} images "
              '(optimistic: --tune-ids or --tune-fraction for a held-out number); results '
              f'in {args.out_dir}')
    if summary['tau_advice']:
        print(f"warning: {summary['tau_advice']}")
    return summary


def _saliency_source(args):
    """Where the saliency maps scored came from: ``'sal_dir'``, ``'packed'``
    (the packed store's own files), or None (``no_saliency`` mode)."""
    if args.mode != 'saliency':
        return None
    return 'packed' if args.cam_format == 'packed' else 'sal_dir'


def _sweep_and_write(args, cfg, items, num_classes, class_names, store, rule):
    job = TauSweep(store, rule, tuple(args.taus), num_classes, args.sal_dir, args.crf)
    held_out = tuning = None
    if args.tune_ids is None and args.tune_fraction is None:
        scores = scores_from_confusion(job.run(items, args.nproc))
    else:
        ids = [i[0] for i in items]
        given = read_id_list(args.tune_ids, 'tuning id list') if args.tune_ids else None
        try:
            tune, report = split_for_tuning(ids, given, args.tune_fraction, args.seed)
        except ValueError as e:
            raise SystemExit(f'--tune-ids / --tune-fraction: {e}') from None
        per_image = job.run_per_image(items, args.nproc)
        scores = scores_from_confusion(per_image.total(ids))
        try:
            held_out = held_out_tau(per_image, list(args.taus), (tune, report), args.select,
                                    args.max_ignored, args.bootstrap, args.seed)
        except ValueError as e:
            raise SystemExit(f'tuning part: {e} (see tau_sweep.csv): raise --max-ignored or '
                             'check the inputs') from None
        tuning = dict(tune_ids=args.tune_ids and osp.abspath(args.tune_ids),
                      tune_fraction=args.tune_fraction, seed=args.seed)
    meta = dict(cam_dir=osp.abspath(args.cam_dir), cam_format=args.cam_format,
                sal_dir=args.sal_dir and osp.abspath(args.sal_dir),
                saliency_source=_saliency_source(args),
                # the folder a pack's saliency maps were packed from, as it records it
                packed_from_sal_dir=args.pack_sal_dir, mode=args.mode,
                sal_threshold=args.sal_threshold, ignore_unassigned=rule.ignore_unassigned,
                num_images=len(items), taus=list(args.taus), split=args.split,
                split_list=split_lists(cfg[args.split]['dataset']),
                crf=args.crf, config=osp.abspath(args.config),
                ignore=('excl: pixels labelled 255 (ignore) are left out of the scores, as '
                        "EPS's script does; miss: they count as misses (false negatives)"))
    meta['max_ignored'] = args.max_ignored
    if tuning is not None:
        held_out['tune'].update(tuning)
    return write_outputs(args.out_dir, list(args.taus), scores, class_names, args.select,
                         meta, args.max_ignored, held_out)


if __name__ == '__main__':
    from mmwsss.cli import run_tool
    run_tool(main)
