"""Draw image | CAM | saliency | pseudo label | GT for a config's training images.

    python tools/browse_pseudo_labels.py CONFIG --out-dir DIR [--ids ID ...] [--num 8]
        [--tau T] [--pseudo-labels BEST_JSON] [--show-ignore] [--per-image 4]
        [--force] [--cfg-options KEY=VALUE ...]

The pseudo labels are made exactly as in training: the CAM store, saliency folder,
rule and DenseCRF preset of the training set's ``pseudo_label_cfg`` (or its
``SaliencyPseudoLabel`` step); ``--pseudo-labels`` applies a τ sweep's ``best.json`` as
``tools/train.py`` does, ``--tau`` overrides τ. GT comes from the dataset's
``seg_map_path`` when the masks are there. A semi-supervised config's ``gt_subset``
images, which train on their GT masks, are drawn with their pseudo labels like the
others, and their titles say "trains on GT". ``--show-ignore`` paints ignored pixels
(255) magenta. Writes ``DIR/pseudo_labels_<k>.png`` (``--per-image`` rows each),
atomically; pages of an earlier run are replaced only with ``--force``.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..'))
from mmwsss.config import DictAction, find_pseudo_label_step, load_config  # noqa: E402
from mmwsss.config.checks import without_gt_subset  # noqa: E402


def parse_args(argv=None):
    from mmwsss.cli import DefaultsHelpFormatter, positive_int, unit_interval
    p = argparse.ArgumentParser(
        formatter_class=DefaultsHelpFormatter,
        description='Draw the pseudo labels of a training set')
    p.add_argument('config')
    p.add_argument('--out-dir', required=True)
    p.add_argument('--ids', nargs='+', help='image ids (default: the first --num)')
    p.add_argument('--num', type=positive_int, default=8)
    p.add_argument('--tau', type=unit_interval, help='override the config\'s τ')
    p.add_argument('--pseudo-labels', metavar='BEST_JSON',
                   help="a τ sweep's best.json (or its folder), applied as tools/train.py "
                   'applies it')
    p.add_argument('--show-ignore', action='store_true', help='ignored pixels in magenta')
    p.add_argument('--per-image', type=positive_int, default=4, help='rows per PNG')
    p.add_argument('--force', action='store_true',
                   help='overwrite the pages of an earlier run in --out-dir')
    p.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = p.parse_args(argv)
    return args


def main(argv=None):
    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options, args.pseudo_labels)
    import mmwsss  # noqa: F401
    from mmseg.registry import DATASETS
    from mmseg.utils import register_all_modules

    from mmwsss.fileio import CAMStore
    from mmwsss.functional import PseudoLabelRule, voc_colormap
    from mmwsss.visualization import PseudoLabelSource, grid_row_from_store, save_grid_figure
    register_all_modules(init_default_scope=True)
    ds_cfg, step = find_pseudo_label_step(cfg.train_dataloader.dataset)
    ds_cfg, gt_subset = without_gt_subset(ds_cfg)  # every image with its pseudo label
    gt_subset = set(gt_subset or ())
    step = dict(step)
    if args.tau is not None:
        step['tau'] = args.tau
    # GT kept (pseudo_labels=False) for the last column; cls_labels from the same list
    dataset = DATASETS.build(dict(ds_cfg, pipeline=[], pseudo_labels=False))
    prefix = getattr(dataset, 'maps_prefix', {})
    cam_dir = step.get('cam_dir') or prefix.get('cam_path')
    sal_dir = step.get('sal_dir') or prefix.get('sal_path')
    if cam_dir is None:
        raise SystemExit('the training set names no CAM store (cam_dir / data_prefix.cam_path)')
    rule = PseudoLabelRule(step.get('tau', 0.1), step.get('mode', 'saliency'),
                           step.get('sal_threshold', 0.2), step.get('ignore_unassigned', True),
                           step.get('ignore_index', 255))
    store = CAMStore(cam_dir, step.get('cam_format', 'bed_png'), step.get('allow_pickle', False))
    if store.holds_saliency:  # its files hold the saliency maps, as in training
        from mmwsss.fileio.cam_store import pack_saliency_problem
        problem = pack_saliency_problem(cam_dir, rule.mode)
        if problem:
            raise SystemExit(problem)
        sal_dir = None
    from mmwsss.outputs import all_config_input_dirs, check_outside_inputs, dataset_input_dirs
    check_outside_inputs(args.out_dir, dict(dataset_input_dirs(dataset),
                                            **all_config_input_dirs(cfg),
                                            **{'CAM store': cam_dir, 'saliency folder': sal_dir}))
    infos = {dataset.get_data_info(i)['img_id']: dataset.get_data_info(i)
             for i in range(len(dataset))}
    ids = args.ids or list(infos)[:args.num]
    unknown = [i for i in ids if i not in infos]
    if unknown:
        raise SystemExit(f'not in the training set of {args.config}: {unknown}')
    if store.holds_saliency:
        from mmwsss.fileio.cam_store import stale_packs
        stale = stale_packs(cam_dir, ids)
        if stale:
            raise SystemExit(f'{len(stale)} pack(s) in {cam_dir} are stale: {"; ".join(stale[:3])}'
                             '; rerun tools/pack_maps.py with the options that made it')
    palette = [list(c) for c in dataset.metainfo.get('palette') or voc_colormap(256)]
    if args.show_ignore:
        palette = (palette + [[0, 0, 0]] * 256)[:255] + [[255, 0, 255]]
    # an earlier run's pages (another τ, other ids) are replaced only on request
    from mmwsss.cli import refuse_overwrite
    for k in range(0, len(ids), args.per_image):
        refuse_overwrite(_page(args.out_dir, k // args.per_image), args.force)
    source = PseudoLabelSource(store, rule, sal_dir if rule.needs_saliency else None,
                               step.get('crf'))
    paths = []
    for k in range(0, len(ids), args.per_image):
        rows = []
        for img_id in ids[k:k + args.per_image]:
            info = infos[img_id]
            cls = info.get('cls_labels')
            gt = info.get('seg_map_path')
            rows.append(grid_row_from_store(
                info['img_path'], source, None if cls is None else [int(c) for c in cls],
                gt if gt and osp.isfile(gt) else None,
                title=f'{img_id} (trains on GT)' if img_id in gt_subset else img_id))
        path = _page(args.out_dir, k // args.per_image)
        crf = f", crf {step['crf']}" if step.get('crf') else ''
        save_grid_figure(path, rows, dataset.metainfo.get('classes'), palette,
                         title=f'τ={rule.tau:g}, {rule.mode}{crf}')
        paths.append(path)
    print('\n'.join(paths))
    return paths


def _page(out_dir: str, i: int) -> str:
    return osp.join(out_dir, f'pseudo_labels_{i}.png')


if __name__ == '__main__':
    from mmwsss.cli import run_tool
    run_tool(main)
