"""Write the CAMs of a trained EPS classifier as a CAM store.

    python tools/make_cams.py CONFIG CHECKPOINT --out-dir DIR
        [--cam-format npz|bed_png] [--dtype uint8|float16]
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
``DIR/<img_id>.npz`` (default) or ``DIR/<img_id>_<c>.png``.

Resumable: images whose CAMs exist are skipped. ``DIR/meta.json`` records the
settings; a rerun with another checkpoint or settings into the same folder
stops unless ``--force`` is given, which also rewrites every image.
With ``--launcher pytorch`` the images are shared out by mmengine's sampler.
"""
import argparse
import os
import os.path as osp
import pickle

import torch
from mmengine.config import DictAction
from mmengine.dist import get_dist_info
from mmengine.runner import Runner

from mmwsss.fileio import cam_path
from mmwsss.utils import load_config, register_checkpoint_safe_globals, setup_cpu_distributed
from mmwsss.utils.outputs import guard_output_dir


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='Write the CAMs of an EPS classifier')
    p.add_argument('config', help='config of the classifier')
    p.add_argument('checkpoint', help='trained checkpoint')
    p.add_argument('--out-dir', required=True, help='CAM store folder')
    p.add_argument('--cam-format', default='npz', choices=('npz', 'bed_png'))
    p.add_argument('--dtype', default='uint8', choices=('uint8', 'float16'),
                   help='npz CAM dtype')
    p.add_argument('--scales', type=float, nargs='+', default=None,
                   help='inference scales (default: the model\'s cam_scales)')
    p.add_argument('--no-flip', action='store_true', help='no flipped inputs')
    p.add_argument('--force', action='store_true',
                   help='rewrite existing CAMs, also when the settings changed')
    p.add_argument('--trust-checkpoint', action='store_true',
                   help='unpickle the whole checkpoint (older mmwsss Runner checkpoints need '
                   'it under torch >= 2.6); it can run code: only for files you trust')
    p.add_argument('--work-dir', help='logs (default: ./work_dirs/<config name>/make_cams)')
    p.add_argument('--launcher', default='none', choices=('none', 'pytorch'))
    p.add_argument('--local_rank', '--local-rank', type=int, default=0)
    p.add_argument('--cfg-options', nargs='+', action=DictAction,
                   help='override config settings (key=value)')
    args = p.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def done(out_dir, img_id, classes, cam_format):
    if cam_format == 'npz':
        return osp.isfile(cam_path(out_dir, img_id, 'npz'))
    return all(osp.isfile(cam_path(out_dir, img_id, 'bed_png', c)) for c in classes)


def load_weights(runner, checkpoint, trust=False):
    """Load the model weights strictly: a head for another dataset is an error."""
    if not osp.isfile(checkpoint):
        raise SystemExit(f'checkpoint not found: {checkpoint!r}')
    try:
        if trust:
            from mmengine.runner.checkpoint import load_state_dict
            ckpt = torch.load(checkpoint, map_location='cpu', weights_only=False)
            model = runner.model.module if hasattr(runner.model, 'module') else runner.model
            load_state_dict(model, ckpt.get('state_dict', ckpt), strict=True)
        else:
            runner.load_checkpoint(checkpoint, map_location='cpu', strict=True)
    except pickle.UnpicklingError as e:
        raise SystemExit(
            f'checkpoint {checkpoint!r} holds objects beyond weights and mmengine\'s own '
            '(e.g. the message hub of a Runner checkpoint written by an older mmwsss), '
            'which the safe loader refuses. If you trust the file (e.g. your own training '
            'run), pass --trust-checkpoint. torch says:\n' + str(e).strip()) from e
    except (ValueError, RuntimeError, KeyError) as e:
        raise SystemExit(f'cannot load checkpoint {checkpoint!r}: {e}') from e


def main(argv=None):
    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options)
    import mmwsss  # noqa: F401  (registers everything, also without custom_imports)
    from mmseg.registry import DATASETS
    from mmseg.utils import register_all_modules
    register_all_modules(init_default_scope=True)
    register_checkpoint_safe_globals()
    if cfg.get('cam_dataloader') is None:
        raise SystemExit(f'{args.config}: no cam_dataloader entry (the split to write CAMs of)')
    if args.scales:
        cfg.model.cam_scales = tuple(args.scales)
    if args.no_flip:
        cfg.model.cam_flip = False
    settings = dict(checkpoint=osp.abspath(args.checkpoint), cam_format=args.cam_format,
                    dtype=args.dtype, scales=list(cfg.model.get('cam_scales', [1.0])),
                    flip=cfg.model.get('cam_flip', True))

    # resume: the images whose CAMs are all there are left out of the test split.
    # Every rank lists them before the Runner wraps the model in DDP, whose
    # constructor synchronises the ranks, so no rank has written anything yet.
    dataset = DATASETS.build(dict(cfg.cam_dataloader.dataset, pipeline=[]))
    todo = []
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        img_id = osp.splitext(osp.basename(info['img_path']))[0]
        classes = [int(c) for c in info.get('cls_labels', [])]
        if args.force or not done(args.out_dir, img_id, classes, args.cam_format):
            todo.append(i)
    skipped = len(dataset) - len(todo)
    rank = int(os.environ.get('RANK', 0))
    guard_output_dir(args.out_dir, settings, args.force, write=rank == 0,
                     extra=dict(config=osp.abspath(args.config), num_images=len(dataset)))
    if not todo:
        print(f'0 images written, {skipped} kept, in {args.out_dir}')
        return

    cfg.launcher = args.launcher
    cfg.work_dir = args.work_dir or osp.join(
        './work_dirs', osp.splitext(osp.basename(args.config))[0], 'make_cams')
    cfg.test_dataloader = dict(cfg.cam_dataloader, batch_size=1,
                               sampler=dict(type='DefaultSampler', shuffle=False),
                               dataset=dict(cfg.cam_dataloader.dataset, indices=todo))
    cfg.test_evaluator = dict(type='CAMStoreWriter', out_dir=args.out_dir,
                              cam_format=args.cam_format, dtype=args.dtype)
    cfg.test_cfg = dict(type='TestLoop')
    cfg.load_from = None  # loaded strictly below
    setup_cpu_distributed(cfg, args.launcher)
    runner = Runner.from_cfg(cfg)
    load_weights(runner, args.checkpoint, args.trust_checkpoint)
    metrics = runner.test()
    if get_dist_info()[0] == 0:
        print(f"{int(metrics['cams/num_written'])} images written, {skipped} kept, "
              f'in {args.out_dir}')


if __name__ == '__main__':
    main()
