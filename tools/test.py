# Test (and evaluate) a segmentor with mmengine's Runner.
# mmseg 1.2.2's tools/test.py, plus ``import mmwsss``, checkpoints that load
# under torch >= 2.6 and DDP on CPU with gloo when there is no CUDA.
import argparse
import contextlib
import os
import os.path as osp
import sys

from mmengine.logging import print_log

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..'))
import mmwsss  # noqa: E402,F401  (registers datasets, transforms and models)
from mmwsss.config import DictAction, check_vis_backends, load_config  # noqa: E402
from mmwsss.config.checks import check_config_values  # noqa: E402
from mmwsss.config.smoke import SMOKE_VAL_IMAGES, make_smoke_config  # noqa: E402
from mmwsss.engine import QuietRunner  # noqa: E402
from mmwsss.engine.checkpoint import register_checkpoint_safe_globals  # noqa: E402
from mmwsss.outputs import all_config_input_dirs, check_outside_inputs, rank_zero_lock
from mmwsss.parallel import setup_cpu_distributed  # noqa: E402
from mmwsss.parallel.dist import collect_into_work_dir, said_once  # noqa: E402


def parse_args(argv=None):
    from mmwsss.cli import DefaultsHelpFormatter, nonneg_float, nonneg_int
    parser = argparse.ArgumentParser(
        formatter_class=DefaultsHelpFormatter,
        description='MMSeg test (and eval) a model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument(
        'checkpoint',
        help="checkpoint file, or 'last' / 'best': the work dir's last checkpoint, or the "
        "one its eval_protocol kept (best_<metric>_iter_<N>.pth; WSSS-BED's protocol)")
    parser.add_argument(
        '--work-dir',
        help=('if specified, the evaluation metric results will be dumped'
              'into the directory as json'))
    parser.add_argument(
        '--out',
        type=str,
        help='The directory to save output prediction for offline evaluation (one '
        'without predictions, unless --force)')
    parser.add_argument(
        '--force', action='store_true',
        help='write --out and --show-dir over the predictions of an earlier run')
    parser.add_argument(
        '--show', action='store_true', help='show prediction results')
    parser.add_argument(
        '--show-dir',
        help='directory where painted images will be saved (<img stem>.png); a '
        'relative path is under work_dir/<timestamp>/')
    parser.add_argument(
        '--wait-time', type=nonneg_float, default=2, help='the interval of show (s)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override some settings in the used config, the key-value pair '
        'in xxx=yyy format will be merged into config file. If the value to '
        'be overwritten is a list, it should be like key="[a,b]" or key=a,b '
        'It also allows nested list/tuple values, e.g. key="[(a,b),(c,d)]", '
        'and dict values as a config writes them, e.g. visualizer.vis_backends='
        '"[dict(type=\'LocalVisBackend\'),dict(type=\'TensorboardVisBackend\')]". '
        'Note that the quotation marks are necessary and that no white space '
        'is allowed.')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument(
        '--tta', action='store_true', help='Test time augmentation')
    parser.add_argument(
        '--crf',
        nargs='?',
        const='deeplab',
        choices=['deeplab', 'psa'],
        help='refine the predictions with DenseCRF (default preset: deeplab, the '
        'DeepLab/WSSS-BED/EPS test-time CRF) before the metric, --out and --show-dir; '
        "needs the [crf] extra (pip install -e '.[crf]')")
    parser.add_argument(
        '--crf-workers',
        type=nonneg_int,
        default=min(4, os.cpu_count() or 1),
        help='CRF worker processes per rank (default: min(4, CPUs)); the network '
        'goes on with the next images meanwhile; 0 refines in the main process')
    parser.add_argument(
        '--smoke',
        action='store_true',
        help='test a smoke run (tools/train.py --smoke): the first %d test images at its '
        'sizes, SyncBN as BN, work dir work_dirs/<config name>_smoke, where \'last\' is '
        'its checkpoint (a checkpoint in that folder puts the results there too)'
        % SMOKE_VAL_IMAGES)
    # torch >= 2.0 launchers pass `--local-rank`
    parser.add_argument('--local_rank', '--local-rank', type=nonneg_int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)

    return args


def trigger_visualization_hook(cfg, args):
    default_hooks = cfg.default_hooks
    if 'visualization' in default_hooks:
        visualization_hook = default_hooks['visualization']
        # Turn on visualization, for every test image (mmseg's hook draws every
        # 50th by default, which leaves --show-dir empty on small test sets)
        visualization_hook['draw'] = True
        visualization_hook['interval'] = 1
        # ours: needs no training split, and draws to --show-dir as --help says
        visualization_hook['type'] = 'SegTestVisualizationHook'
        if args.show:
            visualization_hook['show'] = True
            visualization_hook['wait_time'] = args.wait_time
        if args.show_dir:
            visualization_hook['out_dir'] = args.show_dir
    else:
        raise RuntimeError(
            'VisualizationHook must be included in default_hooks.'
            'refer to usage '
            '"visualization=dict(type=\'VisualizationHook\')"')

    return cfg


def main(argv=None):
    args = parse_args(argv)

    # load config (--cfg-options merged after the --smoke shrink: what the user set wins)
    cfg = load_config(args.config, args.cfg_options,
                      shrink=make_smoke_config if args.smoke else None)
    cfg.launcher = args.launcher
    # a logging backend that cannot start, a value our test split's transforms refuse or
    # a key nobody reads (env_cfg.cudnn_benchmrk): one line, not mmengine's traceback
    said_once(check_vis_backends, cfg)
    said_once(check_config_values, cfg, ('test_dataloader', ))

    # work_dir is determined in this priority: CLI > segment in file > filename
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        name = osp.splitext(osp.basename(args.config))[0]
        folder = osp.dirname(args.checkpoint)
        if folder and osp.basename(osp.normpath(folder)) == name + '_smoke':
            cfg.work_dir = folder  # a smoke run's test lands beside its training
        else:
            cfg.work_dir = osp.join('./work_dirs', name + ('_smoke' if args.smoke else ''))
    args.checkpoint = resolve_checkpoint(args.checkpoint, cfg)
    collect_into_work_dir(cfg)  # not .dist_test/ in the current directory


    if args.show or args.show_dir:
        cfg = trigger_visualization_hook(cfg, args)

    if args.tta:
        cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
        cfg.tta_model.module = cfg.model
        cfg.model = cfg.tta_model
    if args.crf:
        from mmwsss.functional.dense_crf import _densecrf
        _densecrf()  # the missing extra fails here, before any model is built
        inner = cfg.model.module if args.tta else cfg.model
        cfg.model = dict(type='DenseCRFSegTTAModel', crf=args.crf, module=inner)
        cfg.test_cfg = dict(cfg.get('test_cfg') or {}, type='DenseCRFTestLoop',
                            num_workers=args.crf_workers)

    # predictions are <img stem>.png, as the GT masks are: never among the inputs
    # (every split's: the training images' or the val GT folder too, not only the test set's)
    inputs = all_config_input_dirs(cfg)
    for flag, out in (('--out', args.out), ('--show-dir', args.show_dir)):
        if out and (flag == '--out' or osp.isabs(out)):  # a relative --show-dir is in work_dir
            check_outside_inputs(out, inputs, flag)
        # an earlier run's predictions would be replaced, or left among these (another split)
        if out and osp.isdir(out) and not args.force and \
                any(f.endswith('.png') for f in os.listdir(out)):
            raise SystemExit(f'{flag} {out} holds the predictions of an earlier run: choose '
                             'another folder, or use --force to write over them')

    # add output_dir in metric
    if args.out is not None:
        # mmseg's IoUMetric creates the folder on rank 0 only: under dist_test.sh
        # another rank could write its first prediction before it exists
        os.makedirs(args.out, exist_ok=True)
        cfg.test_evaluator['output_dir'] = args.out
        cfg.test_evaluator['keep_results'] = True

    register_checkpoint_safe_globals()
    setup_cpu_distributed(cfg, args.launcher)

    # build the runner from config; the checkpoint is loaded strictly: a head for
    # another num_classes (or any weight that does not fit) is an error, not a
    # log warning followed by a wrong mIoU
    cfg.load_from = None
    runner = QuietRunner.from_cfg(cfg)
    if args.smoke:  # now that the work dir's log file is open
        print_log(f'--smoke: the first {SMOKE_VAL_IMAGES} test images, at the smoke run\'s '
                  'sizes', logger='current')
    try:
        runner.load_checkpoint(args.checkpoint, map_location='cpu', strict=True)
    except (RuntimeError, KeyError, ValueError) as e:
        raise SystemExit(f'cannot load checkpoint {args.checkpoint!r} into the model of '
                         f'{args.config} (another num_classes or network?):\n{e}') from e

    # start testing; two runs writing predictions into one --out would mix them: the
    # folder is locked for the whole run, on rank 0 for the ranks of a launcher
    with rank_zero_lock(args.out) if args.out is not None else contextlib.nullcontext():
        metrics = runner.test()
    if runner.rank == 0:
        write_protocol(runner, cfg, args, metrics)


def resolve_checkpoint(checkpoint: str, cfg) -> str:
    """``last`` / ``best`` as the checkpoint of ``cfg.work_dir`` (see ``--help``);
    any other value must be a file or a URL."""
    import glob

    from mmwsss.evaluation.protocol import get_eval_protocol
    work_dir = cfg.work_dir
    if checkpoint == 'last':
        pointer = osp.join(work_dir, 'last_checkpoint')
        if not osp.isfile(pointer):
            raise FileNotFoundError(f"checkpoint 'last': {pointer} not found (no training "
                                    'run saved a checkpoint in this work dir; --work-dir?)')
        with open(pointer, encoding='utf-8') as f:
            checkpoint = f.read().strip()
    elif checkpoint == 'best':
        protocol = get_eval_protocol(cfg)
        if not protocol['selects_on_eval']:
            raise FileNotFoundError(
                f"checkpoint 'best': {osp.basename(cfg.filename)} keeps no best checkpoint (its "
                "protocol is 'last': nothing is chosen on the evaluation set); name a "
                "checkpoint, or 'last'")
        found = sorted(glob.glob(osp.join(work_dir, f"best_{protocol['metric']}_iter_*.pth")))
        if len(found) != 1:
            raise FileNotFoundError(
                f"checkpoint 'best': {len(found)} best_{protocol['metric']}_iter_*.pth in "
                f'{work_dir} (one expected: the training run keeps the best only); name the '
                'file')
        checkpoint = found[0]
    if not osp.isfile(checkpoint) and '://' not in checkpoint:
        raise FileNotFoundError(f'checkpoint not found: {checkpoint}')
    return checkpoint


def write_protocol(runner, cfg, args, metrics):
    """``protocol.json`` beside mmengine's metrics: what was measured and how."""
    import json

    import torch

    from mmwsss.evaluation.protocol import get_eval_protocol
    from mmwsss.fileio import atomic_write
    ds = runner.test_dataloader.dataset
    try:  # the iteration the checkpoint was saved at (mmap: no second full read)
        meta = torch.load(args.checkpoint, map_location='cpu', mmap=True).get('meta', {})
    except Exception:  # noqa: BLE001  (a remote or foreign checkpoint: not recorded)
        meta = {}
    tta = None
    if args.tta:
        augs = cfg.tta_pipeline[1].transforms
        tta = dict(scales=[t.get('scale_factor') for t in augs[0]],
                   flip=any(t.get('prob', 0) > 0 for t in augs[1]))
    import numbers
    # numpy scalars (IoUMetric's float32) as JSON numbers, not as strings
    metrics = {k: float(v) if isinstance(v, numbers.Real) else v for k, v in metrics.items()}
    protocol = dict(
        metrics=metrics, config=osp.abspath(args.config),
        checkpoint=osp.abspath(args.checkpoint), checkpoint_iter=meta.get('iter'),
        split=ds.ann_file, num_images=len(ds), crf=args.crf, tta=tta,
        # which checkpoint the run's protocol reports, and whether it was chosen on the
        # evaluation set (WSSS-BED's best val checkpoint is)
        eval_protocol=get_eval_protocol(cfg),
        ignore='label 255 in the GT is excluded (mmseg IoUMetric); every prediction counts')
    data = json.dumps(protocol, indent=2, default=str).encode()
    atomic_write(osp.join(runner.log_dir, 'protocol.json'), lambda f: f.write(data))


if __name__ == '__main__':
    from mmwsss.cli import run_tool
    run_tool(main)
