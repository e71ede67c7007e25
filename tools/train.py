# Train a segmentor (or any mmwsss model) with mmengine's Runner.
# mmseg 1.2.2's tools/train.py, plus: ``import mmwsss``; checkpoints that load
# under torch >= 2.6 (``--resume``); DDP on CPU with gloo when there is no
# CUDA; and a check that the pseudo-label folders exist before any training.
import argparse
import logging
import os
import os.path as osp
import sys

from mmengine.dist import get_world_size
from mmengine.logging import print_log

from mmseg.registry import RUNNERS

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..'))
import mmwsss  # noqa: E402,F401  (registers datasets, transforms and models)
from mmwsss.cli import DefaultsHelpFormatter, nonneg_int, positive_int, run_tool  # noqa
from mmwsss.config import (DictAction, check_label_overwrite, check_pseudo_label_dirs,  # noqa
                           check_vis_backends, load_config)
from mmwsss.config.checks import check_config_values  # noqa: E402
from mmwsss.config.smoke import (SMOKE_BATCH, SMOKE_CROP, SMOKE_ITERS,  # noqa: E402
                                 SMOKE_VAL_IMAGES, make_smoke_config)
from mmwsss.engine import QuietRunner  # noqa: E402
from mmwsss.engine.checkpoint import register_checkpoint_safe_globals  # noqa: E402
from mmwsss.evaluation.protocol import apply_eval_protocol  # noqa: E402
from mmwsss.parallel.dist import (batch_note, collect_into_work_dir, device_note,  # noqa
                                  init_distributed, is_main_process, recipe_batch, recipe_gpus,
                                  said_once)

DATA_HELP = ('the data or pretrained weights of this config are not all there '
             '(docs/data_preparation.md, "Preparing the data"; tools/check_data.py lists the '
             'same; --skip-data-check to go on):')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Train a segmentor', formatter_class=DefaultsHelpFormatter)
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models (default: '
                        'work_dirs/<config name>, with a _smoke suffix under --smoke)')
    parser.add_argument(
        '--resume',
        action='store_true',
        default=False,
        help='resume from the latest checkpoint in the work_dir automatically')
    parser.add_argument(
        '--amp',
        action='store_true',
        default=False,
        help='enable automatic-mixed-precision training')
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
        '--pseudo-labels',
        metavar='BEST_JSON',
        help="train on the pseudo labels that tools/eval_pseudo_labels.py chose: its "
        "best.json (or out-dir) sets the training set's CAM store, saliency folder, tau, "
        'mode and CRF, and logs what it applied')
    parser.add_argument(
        '--skip-data-check',
        action='store_true',
        help='do not check before training that every file the config reads (data and '
        'pretrained weights) is there')
    parser.add_argument(
        '--smoke',
        nargs='?',
        type=positive_int,
        const=SMOKE_ITERS,
        metavar='ITERS',
        help='a few minutes on a small machine: this config for ITERS iterations (%d when '
        'not given), %dx%d crops, batch %d, SyncBN as BN, no AMP without a GPU, no '
        'pretrained weights (no download), validation on %d images, a checkpoint of the '
        'weights only, work dir work_dirs/<config name>_smoke (mmwsss.config.smoke); '
        '--cfg-options is applied after it and wins; tools/test.py --smoke tests it'
        % (SMOKE_ITERS, *SMOKE_CROP, SMOKE_BATCH, SMOKE_VAL_IMAGES))
    parser.add_argument(
        '--check-data-only',
        action='store_true',
        help='only check the config and every file it reads, then exit (what '
        'tools/dist_train.sh runs once per node before starting the ranks)')
    parser.add_argument(
        '--recipe-gpus',
        action='store_true',
        help="print how many GPUs make the recipe's total batch "
        '(auto_scale_lr.base_batch_size) with this per-GPU batch '
        '(train_dataloader.batch_size), then exit (what tools/slurm_train.sh runs when '
        'GPUS is not set)')
    # torch >= 2.0 launchers pass `--local-rank`
    parser.add_argument('--local_rank', '--local-rank', type=nonneg_int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)

    return args


def main(argv=None):
    args = parse_args(argv)

    # load config: --cfg-options is merged after the --smoke shrink, so that what the
    # user set wins over the smoke's values
    smoke = []  # what --smoke changed, logged once the work dir's log file is open
    shrink = (lambda c: smoke.extend(make_smoke_config(c, iters=args.smoke))) \
        if args.smoke else None
    cfg = load_config(args.config, args.cfg_options, args.pseudo_labels, shrink=shrink)
    cfg.launcher = args.launcher
    if smoke and args.cfg_options:
        smoke.append('then --cfg-options, which wins: ' + ', '.join(args.cfg_options))
    if args.recipe_gpus:  # the number alone on stdout's last line; a smoke run needs one
        print(1 if args.smoke else recipe_gpus(cfg))
        source = recipe_batch(cfg)[1]
        if not args.smoke and source != 'auto_scale_lr.base_batch_size':
            print(f"train.py: the recipe's total batch is read from {source}", file=sys.stderr)
        return
    # last: after --cfg-options and --smoke, which may change max_iters
    protocol = apply_eval_protocol(cfg)
    # a logging backend that cannot start, or a value our transforms or datasets refuse:
    # one line now, not a traceback after the config dump
    said_once(check_vis_backends, cfg)
    said_once(check_config_values, cfg)

    # the process group first: start-up checks then run once, not once per rank
    init_distributed(cfg, args.launcher)
    if is_main_process() and not args.check_data_only:
        note = device_note(args.launcher)
        if note:
            print_log(note, logger='current', level=logging.WARNING)
    # world size x per-GPU batch against the recipe's (not under --smoke: batch 2 on purpose)
    batch = batch_note(cfg, get_world_size()) if not args.smoke and is_main_process() else None
    # dist_train.sh checks once per node before it starts the ranks
    if os.environ.get('MMWSSS_DATA_CHECKED') != '1':
        problems = preflight(cfg, args.skip_data_check)
        if problems:
            if is_main_process():
                raise SystemExit(DATA_HELP + '\n  ' + '\n  '.join(problems))
            raise SystemExit(1)  # rank 0 says why, once
    if args.check_data_only:
        if is_main_process():
            print('tools/train.py --check-data-only: the config and every file it reads '
                  'are in order')
        return

    # work_dir is determined in this priority: CLI > segment in file > filename
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0] +
                                ('_smoke' if args.smoke else ''))

    # mmengine gathers ranks' metric results through .dist_test/ in the current
    # directory, and leaves it there: into the work dir instead
    collect_into_work_dir(cfg)

    # enable automatic-mixed-precision training
    if args.amp is True:
        optim_wrapper = cfg.optim_wrapper.type
        if optim_wrapper == 'AmpOptimWrapper':
            print_log(
                'AMP training is already enabled in your config.',
                logger='current',
                level=logging.WARNING)
        else:
            assert optim_wrapper == 'OptimWrapper', (
                '`--amp` is only supported when the optimizer wrapper type is '
                f'`OptimWrapper` but got {optim_wrapper}.')
            cfg.optim_wrapper.type = 'AmpOptimWrapper'
            cfg.optim_wrapper.loss_scale = 'dynamic'

    # resume training (torch >= 2.6 loads checkpoints with weights_only=True)
    cfg.resume = args.resume
    register_checkpoint_safe_globals()

    # build the runner from config
    if 'runner_type' not in cfg:
        runner = QuietRunner.from_cfg(cfg)
    else:
        runner = RUNNERS.build(cfg)

    if smoke:  # now that the work dir's log file is open
        print_log('--smoke: ' + '; '.join(smoke), logger='current')
    if batch:
        print_log(batch, logger='current', level=logging.WARNING)
    for line in protocol:
        print_log(line, logger='current')
    if args.resume:
        check_resume_shapes(runner)

    # start training
    runner.train()


def preflight(cfg, skip_data_check: bool = False) -> list:
    """Problems that stop a run before any model is built, one line each: missing
    pseudo-label folders, a pipeline that overwrites the labels, and (unless
    skipped) every file the config reads and its pretrained weights (nothing
    downloaded). Once per node under a launcher."""
    from mmwsss.preflight.data import check_data_once
    problems = []
    for check in (check_pseudo_label_dirs, check_label_overwrite):
        try:
            check(cfg)
        except (FileNotFoundError, ValueError) as e:
            problems.append(str(e))
    if not skip_data_check:  # every list, folder and map it reads, in seconds
        problems += check_data_once(cfg, ('train_dataloader', 'val_dataloader'),
                                    weights=True)
    return problems


def check_resume_shapes(runner):
    """A checkpoint of another model (e.g. another num_classes) is an error naming the
    weights, before the optimizer state fails to load deep inside torch."""
    import torch
    from mmengine.model import is_model_wrapper
    from mmengine.runner import find_latest_checkpoint
    path = find_latest_checkpoint(runner.work_dir)
    if path is None:
        return
    state = torch.load(path, map_location='cpu', mmap=True, weights_only=True).get(
        'state_dict', {})
    model = runner.model.module if is_model_wrapper(runner.model) else runner.model
    own = model.state_dict()
    bad = [f'{k}: checkpoint {tuple(v.shape)}, model {tuple(own[k].shape)}'
           for k, v in state.items() if k in own and tuple(v.shape) != tuple(own[k].shape)]
    if bad:
        raise SystemExit(f'--resume: {path} was saved by another model than this config '
                         'builds (another num_classes?):\n  ' + '\n  '.join(bad[:10]))


if __name__ == '__main__':
    run_tool(main)
