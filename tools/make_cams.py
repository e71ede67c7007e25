"""Write the CAMs of a trained EPS classifier as a CAM store.

    python tools/make_cams.py CONFIG CHECKPOINT --out-dir DIR
        [--cam-format npz|bed_png|packed] [--dtype uint8|float16]
        [--sal-dir DIR] [--compress lz4|zlib|lzma|bz2|none] [--level N]
        [--scales 0.5 1.0 1.5 2.0] [--no-flip] [--force] [--trust-checkpoint]
        [--work-dir WORK_DIR] [--launcher none|pytorch] [--cfg-options KEY=VALUE ...]
    torchrun --nproc_per_node=8 tools/make_cams.py CONFIG CKPT --out-dir DIR --launcher pytorch

A ``Runner.test()`` run: the split is the test loader, ``CAMStoreWriter`` the
metric, so DDP (CUDA or CPU/gloo), device placement and checkpoint loading are
those of ``tools/train.py`` / ``tools/test.py``. Checkpoints load with torch's
safe unpickler (mmengine's own objects allowed); ``--trust-checkpoint`` unpickles
fully, for checkpoints of your own that an older mmwsss wrote.

The split is ``cfg.cam_dataloader.dataset`` (the configs of configs/eps/ set it
to the training split: VOC train_aug, COCO train2014); override it with
``--cfg-options``. Per image: multi-scale (default 0.5, 1, 1.5, 2) CAMs with
flips, summed, each labelled class divided by its max (+1e-5), at the full
image size (``EPSClassifier.predict``), written atomically as
``DIR/<img_id>.npz`` (default), ``DIR/<img_id>_<c>.png`` or ``DIR/<img_id>.maps``
(``--cam-format packed``: the uint8 CAMs and, with ``--sal-dir``, the image's
saliency PNG, compressed with ``--compress``, default lz4: the store
``tools/pack_maps.py`` would make from the npz store, without the npz store;
read with ``cam_format='packed', sal_dir=None``).

Resumable: images whose CAMs exist are skipped. ``DIR/meta.json`` records the
settings; a rerun with another checkpoint or settings into the same folder
stops unless ``--force`` is given, which also rewrites every image (a folder
that holds no CAM yet, after a run that failed early, takes any settings).
One run at a time writes into ``DIR``: the run locks it before it reads or
writes ``meta.json`` and until its last CAM is written; a second run stops at
once, naming the first. With ``--launcher pytorch`` the images are shared out
by mmengine's sampler, rank 0 holds the lock, and every rank stops if it cannot.
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..'))
from mmwsss.apis import CAMSettings, write_cam_store  # noqa: E402
from mmwsss.config import DictAction, load_config  # noqa: E402


def parse_args(argv=None):
    from mmwsss.cli import DefaultsHelpFormatter, nonneg_int, positive_float
    p = argparse.ArgumentParser(
        formatter_class=DefaultsHelpFormatter,
        description='Write the CAMs of an EPS classifier')
    p.add_argument('config', help='config of the classifier')
    p.add_argument('checkpoint', help='trained checkpoint')
    p.add_argument('--out-dir', required=True, help='CAM store folder')
    p.add_argument('--cam-format', default='npz', choices=('npz', 'bed_png', 'packed'))
    p.add_argument('--sal-dir', help="packed: folder of <img_id>.png saliency maps to pack "
                   "beside the CAMs (without it, CAMs only: mode 'no_saliency')")
    p.add_argument('--compress', choices=('lz4', 'zlib', 'lzma', 'bz2', 'none'),
                   help='packed: codec (default lz4; none: uncompressed)')
    p.add_argument('--level', type=nonneg_int, help='packed: codec level (default lz4 9, '
                   'zlib 6, lzma 6, bz2 9)')
    p.add_argument('--dtype', default='uint8', choices=('uint8', 'float16'),
                   help='npz CAM dtype')
    p.add_argument('--scales', type=positive_float, nargs='+', default=None,
                   help='inference scales (default: the model\'s cam_scales)')
    p.add_argument('--no-flip', action='store_true', help='no flipped inputs')
    p.add_argument('--force', action='store_true',
                   help='rewrite existing CAMs, also when the settings changed')
    p.add_argument('--trust-checkpoint', action='store_true',
                   help='unpickle the whole checkpoint (older mmwsss Runner checkpoints need '
                   'it under torch >= 2.6); it can run code: only for files you trust')
    p.add_argument('--work-dir', help='logs (default: ./work_dirs/<config name>/make_cams)')
    p.add_argument('--launcher', default='none', choices=('none', 'pytorch'))
    p.add_argument('--local_rank', '--local-rank', type=nonneg_int, default=0)
    p.add_argument('--cfg-options', nargs='+', action=DictAction,
                   help='override config settings (key=value)')
    args = p.parse_args(argv)
    if args.cam_format == 'bed_png' and args.dtype != 'uint8':
        p.error(f'--dtype {args.dtype} applies to npz stores; bed_png maps are 8-bit PNGs')
    if args.cam_format == 'packed':
        if args.dtype != 'uint8':
            p.error(f'--dtype {args.dtype} applies to npz stores; packed maps are uint8')
        from mmwsss.fileio.packed_maps import check_codec
        args.compress = None if args.compress == 'none' else (args.compress or 'lz4')
        try:
            check_codec(args.compress, args.level)
        except ValueError as e:
            p.error(f'--compress / --level: {e}')
    elif args.sal_dir or args.compress or args.level is not None:
        p.error(f'--sal-dir, --compress and --level apply to --cam-format packed, not '
                f'{args.cam_format}')
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def main(argv=None):
    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options)
    cfg.work_dir = args.work_dir or osp.join(
        './work_dirs', osp.splitext(osp.basename(args.config))[0], 'make_cams')
    try:
        written, kept = write_cam_store(
            cfg, args.checkpoint, args.out_dir,
            CAMSettings(args.cam_format, args.dtype, args.scales, not args.no_flip,
                        args.sal_dir, args.compress, args.level),
            force=args.force, trust_checkpoint=args.trust_checkpoint, launcher=args.launcher)
    except (FileNotFoundError, ValueError) as e:
        raise SystemExit(str(e)) from e
    if written is not None:
        print(f'{written} images written, {kept} kept, in {args.out_dir}')


if __name__ == '__main__':
    from mmwsss.cli import run_tool
    run_tool(main)
