"""Write the CAMs of a trained EPS classifier as a CAM store.

    python tools/make_cams.py CONFIG CHECKPOINT --out-dir DIR
        [--cam-format npz|bed_png] [--dtype uint8|float16]
        [--scales 0.5 1.0 1.5 2.0] [--no-flip] [--force] [--trust-checkpoint]
        [--launcher none|pytorch] [--cfg-options KEY=VALUE ...]
    torchrun --nproc_per_node=8 tools/make_cams.py CONFIG CKPT --out-dir DIR --launcher pytorch

A checkpoint written by the training Runner holds more than weights (its
message hub), which torch >= 2.6's safe loader refuses: pass
``--trust-checkpoint`` for your own checkpoints (full unpickling can run code).

The split is ``cfg.cam_dataloader.dataset`` (the configs of configs/eps/ set it
to the training split: VOC train_aug, COCO train2014); override it with
``--cfg-options``. Per image: multi-scale (default 0.5, 1, 1.5, 2) CAMs with
flips, summed, each labelled class divided by its max (+1e-5), at the full
image size (``EPSClassifier.predict``), written atomically as
``DIR/<img_id>.npz`` (default) or ``DIR/<img_id>_<c>.png``.

Resumable: images whose CAMs exist are skipped. ``DIR/meta.json`` records the
settings; a rerun with another checkpoint or settings into the same folder
stops unless ``--force`` is given, which also rewrites every image.
With ``--launcher pytorch`` each process takes every world_size-th image.
"""
import argparse
import os
import os.path as osp

import torch
from mmengine.config import Config, DictAction
from mmengine.dataset import pseudo_collate
from tqdm import tqdm

from mmwsss.fileio import cam_path, save_cams_bed_png, save_cams_npz
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
                   help='unpickle the whole checkpoint (mmengine Runner checkpoints need it '
                   'under torch >= 2.6); it can run code: only for files you trust')
    p.add_argument('--launcher', default='none', choices=('none', 'pytorch'))
    p.add_argument('--local_rank', '--local-rank', type=int, default=0)
    p.add_argument('--cfg-options', nargs='+', action=DictAction,
                   help='override config settings (key=value)')
    args = p.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def init_distributed(launcher):
    """(rank, world_size, device). CPU machines use gloo (mmengine's launcher
    calls torch.cuda.set_device, which fails without CUDA)."""
    if launcher == 'none':
        return 0, 1, torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    import torch.distributed as dist
    if torch.cuda.is_available():
        from mmengine.dist import init_dist
        init_dist('pytorch')
        device = torch.device('cuda', torch.cuda.current_device())
    else:
        dist.init_process_group('gloo')
        device = torch.device('cpu')
    return dist.get_rank(), dist.get_world_size(), device


def done(out_dir, img_id, classes, cam_format):
    if cam_format == 'npz':
        return osp.isfile(cam_path(out_dir, img_id, 'npz'))
    return all(osp.isfile(cam_path(out_dir, img_id, 'bed_png', c)) for c in classes)


def load_state_dict(checkpoint, trust=False):
    """The model weights of a checkpoint, loaded with torch's safe unpickler.

    Runner checkpoints also hold the message hub, whose HistoryBuffers pickle
    bound methods (``getattr``), which the safe unpickler refuses; loading
    those needs full unpickling, which can run code: only with ``trust``.
    """
    import pickle

    from mmwsss.utils import register_checkpoint_safe_globals
    register_checkpoint_safe_globals()
    if not osp.isfile(checkpoint):
        raise SystemExit(f'checkpoint not found: {checkpoint!r}')
    try:
        ckpt = torch.load(checkpoint, map_location='cpu', weights_only=not trust)
    except pickle.UnpicklingError as e:
        raise SystemExit(
            f'checkpoint {checkpoint!r} holds objects beyond weights (e.g. the message hub '
            'of an mmengine Runner checkpoint), which the safe loader refuses. If you trust '
            'the file (e.g. your own training run), pass --trust-checkpoint.\n'
            + next((ln.strip() for ln in str(e).splitlines() if 'Unsupported' in ln), '')) from e
    if isinstance(ckpt, dict) and 'state_dict' in ckpt:
        ckpt = ckpt['state_dict']
    if not isinstance(ckpt, dict):
        raise SystemExit(f'checkpoint {checkpoint!r} holds no state dict')
    return ckpt


def build_model(cfg, checkpoint, device, trust=False):
    from mmengine.runner.checkpoint import load_state_dict as mm_load_state_dict
    from mmseg.registry import MODELS
    model = MODELS.build(cfg.model)  # no init_weights(): nothing is downloaded
    state = load_state_dict(checkpoint, trust)
    try:
        mm_load_state_dict(model, state, strict=True)
    except (ValueError, RuntimeError, KeyError) as e:
        raise SystemExit(f'cannot load checkpoint {checkpoint!r}: {e}') from e
    return model.to(device).eval()


def main(argv=None):
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    import mmwsss  # noqa: F401  (registers everything, also without custom_imports)
    from mmseg.registry import DATASETS
    from mmseg.utils import register_all_modules
    register_all_modules(init_default_scope=True)
    if cfg.get('cam_dataloader') is None:
        raise SystemExit(f'{args.config}: no cam_dataloader entry (the split to write CAMs of)')

    rank, world, device = init_distributed(args.launcher)
    dataset = DATASETS.build(cfg.cam_dataloader.dataset)
    model = build_model(cfg, args.checkpoint, device, args.trust_checkpoint)
    if args.scales:
        model.cam_scales = tuple(args.scales)
    if args.no_flip:
        model.cam_flip = False

    settings = dict(checkpoint=osp.abspath(args.checkpoint), cam_format=args.cam_format,
                    dtype=args.dtype, scales=list(model.cam_scales), flip=model.cam_flip)
    guard_output_dir(args.out_dir, settings, args.force, write=rank == 0,
                     extra=dict(config=osp.abspath(args.config), num_images=len(dataset)))

    todo = []
    for i in range(rank, len(dataset), world):
        info = dataset.get_data_info(i)
        img_id = osp.splitext(osp.basename(info['img_path']))[0]
        classes = [int(c) for c in info.get('cls_labels', [])]
        if args.force or not done(args.out_dir, img_id, classes, args.cam_format):
            todo.append(i)
    skipped = len(range(rank, len(dataset), world)) - len(todo)
    loader = torch.utils.data.DataLoader(
        torch.utils.data.Subset(dataset, todo), batch_size=1, shuffle=False,
        num_workers=cfg.cam_dataloader.get('num_workers', 0), collate_fn=pseudo_collate)
    desc = 'CAMs' + (f' ({skipped} already written)' if skipped else '')
    for data in tqdm(loader, total=len(todo), desc=desc, disable=rank != 0):
        with torch.no_grad():
            sample = model.test_step(data)[0]
        img_id = osp.splitext(osp.basename(sample.metainfo['img_path']))[0]
        cams = sample.pred_cams.data.float().cpu().numpy()
        keys = sample.metainfo['cam_classes']
        if args.cam_format == 'npz':
            save_cams_npz(cam_path(args.out_dir, img_id, 'npz'), keys, cams, args.dtype)
        else:
            save_cams_bed_png(args.out_dir, img_id, keys, cams)
    if world > 1:
        torch.distributed.barrier()
    if rank == 0:
        print(f'{len(todo)} images written, {skipped} kept (rank 0), in {args.out_dir}')


if __name__ == '__main__':
    main()
