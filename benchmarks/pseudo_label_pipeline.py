"""Benchmark: pseudo labels made on the fly against precomputed label PNGs.

    python benchmarks/pseudo_label_pipeline.py [--num-images 40] [--repeats 5]
        [--runs 3] [--threads 1] [--clock cpu|wall] [--work-dir DIR]
        [--maps cones|stride8] [--codecs none zlib:6 ...]

On generated VOC-size images (``mmwsss.testing.make_voc_like_data``: 500×375 /
375×500 photo-like JPEGs, 1–3 classes, WSSS-BED ``bed_png`` CAMs, soft saliency
maps, and the same labels precomputed as PNGs) it times, under the protocol of
``_protocol.py`` (threads pinned alike, variants interleaved per image, best of
``--repeats`` per image, median over images, ``--runs`` whole runs with their
spread; by default the CPU time of the one thread that does the work, which
other processes on a shared machine do not inflate, ``--clock wall`` for wall
time):

(a) the pseudo-label rule alone on maps in memory (``PseudoLabelRule`` on the
    uint8 maps, saliency binarised included) against WSSS-BED's per-image work
    for the same label: its run.py's literal rule, maps / 255 as float32,
    a (C+1)×H×W score array, τ applied, argmax, ignore (target ≤ 0.03);
(b) the label step alone: ``SaliencyPseudoLabel`` (reading the ``bed_png``,
    ``npz`` or ``packed`` store) against mmseg's ``LoadAnnotations``;
(c) the full mmseg VOC training pipeline (LoadImageFromFile, label,
    RandomResize, RandomCrop, RandomFlip, PhotoMetricDistortion,
    PackSegInputs) with labels made on the fly against the same pipeline
    reading the precomputed PNGs; the random augmentations are seeded per
    image, so every variant and repeat does the same work (targets: ``packed``
    ≤ 1.00, ``bed_png`` and ``npz`` ≤ 1.10).

It also prints each store's size on disk per image. ``--codecs`` adds one
``packed`` store per codec (``packed`` is ``none``, the uncompressed version 1;
``packed_zlib6`` is ``zlib:6``, and so on); ``--maps stride8`` makes the maps of
``mmwsss.testing.make_stride8_maps`` (a classifier's look: weak activations all
over the image) instead of the default cones, which compress better.
"""
import argparse
import os
import os.path as osp
import sys
import tempfile

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from _protocol import pin_threads  # noqa: E402

PINNED = pin_threads(1 if '--threads' not in sys.argv else
                     int(sys.argv[sys.argv.index('--threads') + 1]))

import numpy as np  # noqa: E402
from tqdm import tqdm  # noqa: E402

from _protocol import across_runs, format_report, run_protocol  # noqa: E402


def codec_name(spec):
    """``'none'`` -> ``'packed'``; ``'zlib:6'`` -> ``'packed_zlib6'``; with the
    codec and level for ``pack_image``."""
    from mmwsss.fileio.packed_maps import DEFAULT_LEVEL, check_codec
    codec, _, level = spec.partition(':')
    if codec == 'none':
        return 'packed', None, None
    level = int(level) if level else DEFAULT_LEVEL.get(codec)
    check_codec(codec, level)
    return f'packed_{codec}{level}', codec, level


def prepare(root, n, codecs=('none', ), maps='cones'):
    """The VOC-like set, plus the same CAMs as an npz store and a packed store."""
    from mmwsss.fileio import CAMStore, parse_cls_label_file, save_cams_npz
    from mmwsss.fileio.cam_store import pack_image
    from mmwsss.fileio.packed_maps import Codec
    from mmwsss.testing import make_voc_like_data
    d = make_voc_like_data(root, num_images=n, maps=maps)
    cls = parse_cls_label_file(osp.join(root, d.cls_label_file))
    src = CAMStore(osp.join(root, d.cam_path))
    dirs = dict(bed_png=osp.join(root, d.cam_path), npz=osp.join(root, 'cams_npz'))
    packs = {}
    for spec in codecs:
        name, codec, level = codec_name(spec)
        dirs[name] = osp.join(root, 'cams_' + name)
        packs[name] = (codec, level)
    for img_id, classes in tqdm(cls.items(), desc='npz and packed stores'):
        npz = osp.join(dirs['npz'], img_id + '.npz')
        if not osp.isfile(npz):
            cams, keys = src.load(img_id, classes)
            save_cams_npz(npz, keys, cams / np.float32(255))  # round(255·(v/255)) == v
        for name, (codec, level) in packs.items():
            packed = osp.join(dirs[name], img_id + '.maps')
            if not osp.isfile(packed):
                pack_image(src, img_id, packed, classes,
                           osp.join(root, d.sal_path, img_id + '.png'), codec=Codec(codec, level))
    return d, cls, dirs


def sizes(d, cls, dirs):
    """Mean bytes on disk per image of each way to store what the label needs."""
    def size(paths):
        return sum(os.path.getsize(p) for p in paths)

    def sal(i):
        return osp.join(d.root, d.sal_path, i + '.png')

    per = dict(
        label_png=[size([osp.join(d.root, d.label_path, i + '.png')]) for i in cls],
        bed_png=[size([sal(i)] + [osp.join(dirs['bed_png'], f'{i}_{c}.png') for c in c_])
                 for i, c_ in cls.items()],
        npz=[size([sal(i), osp.join(dirs['npz'], i + '.npz')]) for i in cls],
        **{f: [size([osp.join(dirs[f], i + '.maps')]) for i in cls]
           for f in dirs if f.startswith('packed')})
    return {k: float(np.mean(v)) for k, v in per.items()}


def wsss_bed_label(cams_u8, classes, sal_u8, tau=0.1, num_classes=20):
    """WSSS-BED's run.py for one image (Algorithm 1 literally): maps / 255,
    a (C+1)-channel score array, CAMs below τ zeroed, argmax, ignore."""
    h, w = sal_u8.shape
    sal = (sal_u8.astype(np.float32) / 255) > 0.2
    pred = np.zeros((num_classes + 1, h, w), np.float32)
    pred[0] = 1.0 - sal.astype(np.float32)
    for c, cam in zip(classes, cams_u8):
        pred[c + 1] = cam.astype(np.float32) / 255
    pred[1:] = np.where(pred[1:] < np.float32(tau), 0, pred[1:])
    out = pred.argmax(0).astype(np.uint8)
    out[sal & (out == 0)] = 255
    return out


def augment():
    return [
        dict(type='RandomResize', scale=(2048, 512), ratio_range=(0.5, 2.0), keep_ratio=True),
        dict(type='RandomCrop', crop_size=(512, 512), cat_max_ratio=0.75),
        dict(type='RandomFlip', prob=0.5),
        dict(type='PhotoMetricDistortion'),
        dict(type='PackSegInputs'),
    ]


def label_step(d, dirs, fmt):
    if fmt == 'precomputed':
        return dict(type='LoadAnnotations')
    packed = fmt.startswith('packed')
    return dict(type='SaliencyPseudoLabel', cam_dir=dirs[fmt],
                cam_format='packed' if packed else fmt, tau=0.1,
                sal_dir=None if packed else osp.join(d.root, d.sal_path))


def build(d, dirs, fmt, steps):
    from mmseg.registry import DATASETS
    pipeline = [dict(type='LoadImageFromFile'), label_step(d, dirs, fmt)] + steps
    if fmt == 'precomputed':
        return DATASETS.build(dict(
            type='VOCWSSSDataset', data_root=d.root, ann_file=d.ann_file,
            data_prefix=dict(img_path=d.img_path, seg_map_path=d.label_path),
            pipeline=pipeline))
    return DATASETS.build(dict(
        type='VOCWSSSDataset', data_root=d.root, ann_file=d.ann_file,
        cls_label_file=d.cls_label_file, data_prefix=dict(img_path=d.img_path),
        pseudo_labels=True, pipeline=pipeline))


def main():
    from mmwsss.cli import positive_int  # counts: every numeric flag here
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument('--num-images', type=positive_int, default=40)
    p.add_argument('--repeats', type=positive_int, default=5, help='k: best of k per image')
    p.add_argument('--runs', type=positive_int, default=3, help='whole runs (spread over them)')
    p.add_argument('--threads', type=positive_int, default=1,
                   help='threads of OpenCV, torch and BLAS, the same for every variant')
    p.add_argument('--clock', default='cpu', choices=('cpu', 'wall'),
                   help="'cpu': the thread's CPU time (default; robust to other load), "
                   "'wall': wall time")
    p.add_argument('--work-dir', help='where to generate the data (default: a temp dir)')
    p.add_argument('--skip', nargs='*', default=[], choices=('rule', 'step', 'pipeline'),
                   help='parts not to run')
    p.add_argument('--maps', default='cones', choices=('cones', 'stride8'),
                   help="the generated maps: 'cones' (smooth, zero away from the object) or "
                   "'stride8' (a classifier's look); use one --work-dir per kind")
    p.add_argument('--codecs', nargs='+', default=['none', 'zlib:6'],
                   help='one packed store per codec: none, zlib[:LEVEL], lzma[:PRESET], '
                   'bz2[:LEVEL]')
    args = p.parse_args()

    import mmwsss  # noqa: F401  (registers the datasets and the transform)
    from mmengine.runner import set_random_seed
    from mmseg.utils import register_all_modules

    from mmwsss.fileio import CAMStore, read_saliency
    from mmwsss.functional import PseudoLabelRule
    register_all_modules(init_default_scope=True)

    tmp = None
    root = args.work_dir
    if root is None:
        tmp = tempfile.TemporaryDirectory()
        root = tmp.name
    d, cls, dirs = prepare(root, args.num_images, args.codecs, args.maps)
    formats = tuple(dirs)
    k, runs, clock = args.repeats, args.runs, args.clock
    print(f'\nimages: {len(cls)} (500×375 / 375×500, 1–3 classes, {args.maps} maps); best '
          f'of {k} per image, median over images, {runs} whole runs; clock: {clock}; threads '
          f'pinned: {PINNED}')
    sz = sizes(d, cls, dirs)
    print('\nsize on disk per image: ' + ', '.join(
        f'{n} {v / 1024:.1f} KiB' for n, v in sz.items()) +
        '  (bed_png and npz: with the saliency PNG)')
    print('packed / bed_png bytes: ' + ', '.join(
        f'{n} {v / sz["bed_png"]:.2f}' for n, v in sz.items() if n.startswith('packed')))

    if 'rule' not in args.skip:
        rule, src = PseudoLabelRule(), CAMStore(dirs['bed_png'])
        items = []
        for img_id, classes in cls.items():
            cams, keys = src.load(img_id, classes)
            items.append((cams, keys, read_saliency(osp.join(d.root, d.sal_path,
                                                             img_id + '.png'))))
        # same labels, or the comparison means nothing
        for cams, keys, sal in items[:5]:
            np.testing.assert_array_equal(rule(cams, keys, sal), wsss_bed_label(cams, keys, sal))
        res = run_protocol(items, dict(wsss_bed=lambda it: wsss_bed_label(*it),
                                       rule=lambda it: rule(*it)),
                           baseline='wsss_bed', k=k, runs=runs, clock=clock)
        print("\n(a) the rule alone against WSSS-BED's per-image work (maps in memory):")
        print(format_report(res, 'wsss_bed', labels=dict(
            wsss_bed="WSSS-BED's run.py rule (float, C+1 argmax)",
            rule='PseudoLabelRule (uint8)')))

    variants = ('precomputed', ) + formats
    if 'step' not in args.skip:
        from mmcv.transforms import LoadImageFromFile
        from mmseg.registry import TRANSFORMS
        ds = build(d, dirs, 'precomputed', [])
        load = LoadImageFromFile()
        infos = []
        for i in range(len(ds)):
            info = ds.get_data_info(i)
            info['seg_fields'] = []
            info = load(info)
            info['cls_labels'] = cls[info['img_id']]
            infos.append(info)
        steps = {f: TRANSFORMS.build(label_step(d, dirs, f)) for f in variants}
        res = run_protocol(infos, {f: (lambda t: lambda info: t(dict(info)))(t)
                                   for f, t in steps.items()},
                           baseline='precomputed', k=k, runs=runs, clock=clock)
        print('\n(b) the label step alone (after LoadImageFromFile):')
        print(format_report(res, 'precomputed', labels=dict(
            precomputed='LoadAnnotations (label PNG)')))

    if 'pipeline' not in args.skip:
        datasets = {f: build(d, dirs, f, augment()) for f in variants}
        for i in range(3):  # the same labels, or the comparison means nothing
            want = None
            for f, ds in datasets.items():
                set_random_seed(i)
                got = ds[i]['data_samples'].gt_sem_seg.data.numpy()
                want = got if want is None else want
                np.testing.assert_array_equal(got, want, err_msg=f)
        res = run_protocol(list(range(len(cls))),
                           {f: (lambda ds: lambda i: ds[i])(ds) for f, ds in datasets.items()},
                           baseline='precomputed', k=k, runs=runs,
                           before_each=lambda i, _: set_random_seed(i), clock=clock)
        print('\n(c) the VOC training pipeline, on the fly against precomputed label PNGs:')
        print(format_report(res, 'precomputed', labels=dict(
            precomputed='precomputed label PNGs')))
        rat = across_runs(res, 'ratio')
        print('\n' + ', '.join(f'{f} {rat[f]["median"]:.3f} (spread {100 * rat[f]["spread"]:.1f} %)'
                               for f in formats))
    if tmp is not None:
        tmp.cleanup()


if __name__ == '__main__':
    main()
