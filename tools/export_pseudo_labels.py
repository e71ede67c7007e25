"""Write the pseudo labels of a config's training split as palette PNGs.

    python tools/export_pseudo_labels.py CONFIG --out-dir DIR [--nproc N]
        [--pseudo-labels BEST_JSON] [--cfg-options KEY=VALUE ...] [--force]

The labels are exactly those ``SaliencyPseudoLabel`` makes on the fly during
training (the same transform, with the config's settings: the dataset's
``pseudo_label_cfg`` and map folders, or the step in its pipeline;
``--pseudo-labels`` applies a τ sweep's ``best.json`` as ``tools/train.py``
does). The folder holds pseudo labels only: a semi-supervised config's
``gt_subset`` images, which train on their GT masks, get their pseudo label
here like every other image (``meta.json`` lists them under ``gt_subset``).
Resumable: images already written are skipped. ``DIR/meta.json`` records the
settings and the images with their image-level labels; a rerun with other
settings or other images into the same folder stops unless ``--force`` is
given, which rewrites every label and removes the labels of images that are
no longer listed.
"""
import argparse
import glob
import hashlib
import os
import os.path as osp
from functools import partial

from mmwsss.config.checks import find_pseudo_label_step, without_gt_subset
from mmwsss.config.loading import DictAction, load_config
from mmwsss.fileio import save_label_png
from mmwsss.fileio.png import image_hw, read_image
from mmwsss.outputs import (OutputLock, all_config_input_dirs, check_outside_inputs,  # noqa
                            dataset_input_dirs, file_fingerprint, guard_output_dir, is_done,
                            refuse_launcher)
from mmwsss.parallel import run_parallel

def parse_args(argv=None):
    from mmwsss.cli import DefaultsHelpFormatter, positive_int
    p = argparse.ArgumentParser(
        formatter_class=DefaultsHelpFormatter,
        description='Export on-the-fly pseudo labels as PNGs')
    p.add_argument('config', help='training config (uses train_dataloader.dataset)')
    p.add_argument('--out-dir', required=True, help='folder for <img_id>.png')
    p.add_argument('--nproc', type=positive_int, default=1, help='worker processes')
    p.add_argument('--crf', nargs='?', const='psa', choices=('psa', 'deeplab'),
                   help='refine each CAM-only label with DenseCRF, as PSA/IRN do (default '
                   'preset psa; the config must use mode no_saliency)')
    p.add_argument('--pseudo-labels', metavar='BEST_JSON',
                   help="a τ sweep's best.json (or its folder), applied as tools/train.py "
                   'applies it')
    p.add_argument('--force', action='store_true',
                   help='rewrite existing labels, also when the settings or the images '
                   'changed, and remove those of images no longer listed')
    p.add_argument('--cfg-options', nargs='+', action=DictAction,
                   help='override config settings, as in mmseg tools (key=value)')
    args = p.parse_args(argv)
    return args


_JOB = {}


def _init(transform, palette):
    _JOB.update(transform=transform, palette=palette)


def _export(job):
    info, path = job
    img_id = osp.splitext(osp.basename(info['img_path']))[0]
    if _JOB['transform'].crf is not None:  # the CRF needs the pixels
        img = read_image(info['img_path'], img_id, channel_order='bgr')  # as mmcv loads
        results = dict(info, img=img, ori_shape=img.shape[:2], seg_fields=[])
    else:
        results = dict(info, ori_shape=image_hw(info['img_path'], img_id), seg_fields=[])
    results = _JOB['transform'](results)
    save_label_png(path, results['gt_seg_map'], _JOB['palette'])


def _images_digest(infos):
    """A digest of the image ids and their image-level labels, in order."""
    h = hashlib.sha256()
    for info in infos:
        cls = info.get('cls_labels')
        cls = '-' if cls is None else ' '.join(str(int(c)) for c in cls)
        h.update(f"{info['img_id']}\0{cls}\n".encode())
    return h.hexdigest()


def _remove_unlisted(out_dir, ids):
    """Remove the label PNGs of images other than ``ids`` (left by an earlier
    export into this folder); returns how many."""
    removed = 0
    for path in glob.glob(osp.join(glob.escape(out_dir), '*.png')):
        if osp.splitext(osp.basename(path))[0] not in ids:
            os.remove(path)
            removed += 1
    return removed


def main(argv=None):
    args = parse_args(argv)
    refuse_launcher('export_pseudo_labels')
    cfg = load_config(args.config, args.cfg_options, args.pseudo_labels)
    import mmwsss  # noqa: F401  (registers everything, also without custom_imports)
    from mmseg.registry import DATASETS, TRANSFORMS
    from mmseg.utils import register_all_modules
    register_all_modules(init_default_scope=True)

    ds_cfg, step = find_pseudo_label_step(cfg.train_dataloader.dataset)
    # pseudo labels only, never a GT mask: a gt_subset's images get theirs like the others
    ds_cfg, gt_subset = without_gt_subset(ds_cfg)
    dataset = DATASETS.build(dict(ds_cfg, pipeline=[]))
    infos = [dataset.get_data_info(i) for i in range(len(dataset))]
    for info in infos:
        info.setdefault('img_id', osp.splitext(osp.basename(info['img_path']))[0])
    step = dict(step, type='SaliencyPseudoLabel')
    if args.crf:
        step['crf'] = args.crf
    transform = TRANSFORMS.build(step)

    # the dataset's map folders are settings too: other maps, other labels
    maps = {k: v for k, v in getattr(dataset, 'maps_prefix', {}).items() if v is not None}
    # labels are <img_id>.png, as saliency maps and GT masks are: never among them
    check_outside_inputs(args.out_dir, dict(dataset_input_dirs(dataset),
                                            **all_config_input_dirs(cfg),
                                            **{'CAM store (cam_dir)': step.get('cam_dir'),
                                               'saliency folder (sal_dir)': step.get('sal_dir')}))
    with OutputLock(args.out_dir):  # two exports into one folder would mix
        # a CAM store regenerated in place (make_cams --force) rewrites its meta.json
        stores = [step.get('cam_dir'), maps.get('cam_path')]
        stamps = {d: file_fingerprint(osp.join(d, 'meta.json')) for d in stores
                  if d and osp.isfile(osp.join(d, 'meta.json'))}
        # the labels depend on each image's image-level labels too: a folder written
        # for other images or other class lists is not resumed
        images = _images_digest(infos)
        ours = osp.isfile(osp.join(args.out_dir, 'meta.json'))  # a folder this tool wrote
        guard_output_dir(args.out_dir, dict(pseudo_label=step, maps=maps, cam_stores=stamps,
                                            labels='pseudo labels of every image',
                                            images=images),
                         args.force,
                         extra=dict(config=osp.abspath(args.config), num_images=len(infos),
                                    gt_subset=gt_subset))
        if args.force and ours:
            removed = _remove_unlisted(args.out_dir, {info['img_id'] for info in infos})
            if removed:
                print(f'{removed} label(s) of images not listed now removed from '
                      f'{args.out_dir}')

        jobs = []
        for info in infos:
            path = osp.join(args.out_dir, info['img_id'] + '.png')
            if args.force or not is_done(path):
                jobs.append((info, path))
        skipped = len(infos) - len(jobs)
        palette = dataset.metainfo.get('palette')
        desc = 'pseudo labels' + (f' ({skipped} already written)' if skipped else '')
        run_parallel(_export, jobs, nproc=args.nproc, desc=desc, initializer=partial(_init, transform, palette))
        print(f'{len(jobs)} labels written, {skipped} kept, in {args.out_dir}')
        if gt_subset:
            print(f'{len(gt_subset)} of them are of gt_subset images, which train on their '
                  'GT masks: here their pseudo labels (listed in meta.json)')


if __name__ == '__main__':
    from mmwsss.cli import run_tool
    run_tool(main)
