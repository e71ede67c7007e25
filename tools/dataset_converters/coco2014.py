"""Build COCO-14 label maps and WSSS-BED image-level label lists with pycocotools.

    python tools/dataset_converters/coco2014.py data/coco2014 [--splits train2014 val2014]
        [-o OUT] [--nproc N] [--force]

Writes, under OUT (default: the COCO root):
    SegmentationClass/<split>/<img_id>.png   label maps (0 bg, c+1 class c, 255 crowd)
    cls_labels/<split>.txt                   ``<img_id> <c> ...`` (images with a class)
    ImageSets/<split>.txt                    every image id of the split
    ImageSets/<split>_wsss.txt               the ids of cls_labels/<split>.txt: the images
                                             the WSSS papers use (val2014: 40,137 of 40,504)
Resumable: label maps already written are skipped (``--force`` rewrites them);
every file is written atomically, so an interrupted run leaves no partial file.
``SegmentationClass/<split>/meta.json`` records the annotation file's SHA-256: after
the annotations changed, a rerun refuses to mix old maps with new lists (``--force``
rewrites every map).
"""
import argparse
import hashlib
import os.path as osp
from functools import partial

from mmwsss.datasets.coco_labels import (coco_category_map, coco_cls_labels, coco_image_stem,
                                         coco_label_map, load_coco)
from mmwsss.fileio import atomic_write, format_cls_label_line, save_label_png
from mmwsss.functional.palette import voc_colormap
from mmwsss.outputs import OutputLock, guard_output_dir, is_done
from mmwsss.parallel import run_parallel

_COCO, _CAT_MAP = None, None


def _init(ann_file):
    global _COCO, _CAT_MAP
    _COCO = load_coco(ann_file)  # every field checked before pycocotools sees it
    _CAT_MAP = coco_category_map(_COCO)


def _convert(job):
    image_id, path = job
    save_label_png(path, coco_label_map(_COCO, image_id, _CAT_MAP), voc_colormap(256))
    return image_id


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 24), b''):
            digest.update(block)
    return digest.hexdigest()


def convert_split(root, split, out, nproc=1, force=False):
    ann_file = osp.join(root, 'annotations', f'instances_{split}.json')
    if not osp.isfile(ann_file):
        raise FileNotFoundError(f'COCO annotation file not found: {ann_file}')
    # checked before anything is written: a refused file leaves no meta.json that
    # would hold its fixed version off as "other settings"
    _init(ann_file)
    seg_dir = osp.join(out, 'SegmentationClass', split)
    with OutputLock(seg_dir):  # the check and the writes under one lock, as export's
        # the maps are kept across runs: they must come from these very annotations
        guard_output_dir(seg_dir, dict(annotations_sha256=_sha256(ann_file)), force=force,
                         extra=dict(annotations=osp.abspath(ann_file)))
        return _convert_split(ann_file, split, out, seg_dir, nproc, force)


def _convert_split(ann_file, split, out, seg_dir, nproc, force):
    coco, cat_map = _COCO, _CAT_MAP
    ids, wsss_ids, lines, jobs = [], [], [], []
    for image_id in sorted(coco.getImgIds()):
        stem = coco_image_stem(coco, image_id, ann_file)
        ids.append(stem)
        cls = coco_cls_labels(coco, image_id, cat_map)
        # the WSSS papers' lists (WSSS-BED, EPS) hold the images with an object:
        # 82,081 of train2014's 82,783 and 40,137 of val2014's 40,504; those left out
        # have no annotation at all. A crowd-only image has no class, so it is left
        # out as well (train2017's 118k images hold none).
        if cls:
            lines.append(format_cls_label_line(stem, cls))
            wsss_ids.append(stem)
        path = osp.join(seg_dir, stem + '.png')
        if force or not is_done(path):
            jobs.append((image_id, path))
    done = len(ids) - len(jobs)
    desc = f'{split} label maps' + (f' ({done} already done)' if done else '')
    run_parallel(_convert, jobs, nproc=nproc, desc=desc, initializer=partial(_init, ann_file), chunksize=16)
    for name, rows in ((osp.join(out, 'cls_labels', f'{split}.txt'), lines),
                       (osp.join(out, 'ImageSets', f'{split}.txt'), ids),
                       (osp.join(out, 'ImageSets', f'{split}_wsss.txt'), wsss_ids)):
        data = ('\n'.join(rows) + '\n').encode()
        atomic_write(name, lambda f: f.write(data))
    return len(ids), len(wsss_ids), len(jobs)


def parse_args(argv=None):
    from mmwsss.cli import DefaultsHelpFormatter, positive_int
    p = argparse.ArgumentParser(
        formatter_class=DefaultsHelpFormatter,
        description='Convert COCO-14 instances to WSSS label maps')
    p.add_argument('coco_root', help='folder with train2014/, val2014/, annotations/')
    p.add_argument('--splits', nargs='+', default=['train2014', 'val2014'])
    p.add_argument('-o', '--out-dir', help='output root (default: coco_root)')
    p.add_argument('--nproc', type=positive_int, default=1, help='worker processes')
    p.add_argument('--force', action='store_true',
                   help='rewrite existing label maps (also when the annotations changed)')
    args = p.parse_args(argv)
    return args


def main(argv=None):
    args = parse_args(argv)
    out = args.out_dir or args.coco_root
    for split in args.splits:
        n, n_wsss, written = convert_split(args.coco_root, split, out, args.nproc, args.force)
        print(f'{split}: {n} images ({n_wsss} with an object, ImageSets/{split}_wsss.txt), '
              f'{written} label maps written, {n - written} kept')


if __name__ == '__main__':
    from mmwsss.cli import run_tool
    run_tool(main)
