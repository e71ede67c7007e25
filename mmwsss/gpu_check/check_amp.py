"""Part d: ``tools/train.py --amp`` on DeepLab-V3+ (bf16 where supported, else fp16)."""
import glob
import os.path as osp

from . import runner
from .parse import read_scalars, train_stats, warmup_of
from .plan import ROOT
from .recipes import AMP_RECIPE
from .report import fmt


def part_d(checks, part):
    """Trains part d's config (written by the prepare step) and judges the run."""
    a = checks.args
    cfg = osp.join(checks.work, 'd', 'config.py')
    work = osp.join(checks.work, 'd', 'run')
    log = osp.join(checks.logs, 'd.log')
    cuda = bool(checks.hw.get('gpu_count')) and not a.dry_run
    dtype = 'bfloat16' if checks.hw.get('bf16_supported') else 'float16'
    result = dict(recipe=AMP_RECIPE, amp=cuda, dtype=dtype if cuda else 'float32')
    if not cuda:  # mmengine's AmpOptimWrapper asserts a GPU (or NPU / MLU)
        result['note'] = 'no CUDA: trained in float32 without --amp'
    part['result'] = result
    if not osp.isfile(cfg):
        part.update(status='failed', summary='no config: the prepare step did not write '
                    f'{osp.relpath(cfg, a.scratch)} (see logs/prepare.log)')
        return
    cmd = [checks.py, osp.join(ROOT, 'tools', 'train.py'), cfg, '--work-dir', work]
    if cuda:
        cmd += ['--amp', '--cfg-options', f'optim_wrapper.dtype={dtype}']
    run = runner.run_logged(cmd, log, checks.budget('d'), checks.env)
    runs = sorted(d for d in glob.glob(osp.join(work, '*')) if osp.isdir(d))
    rows = read_scalars(runs[-1]) if runs else []
    iters = a.sizes['amp_iters']
    result.update(train_stats(rows, warmup_of(iters)))
    if cuda:  # the optimizer wrapper the run really used
        dumped = glob.glob(osp.join(runs[-1], 'vis_data', 'config.py')) if runs else []
        result['amp_optim_wrapper'] = bool(dumped) and 'AmpOptimWrapper' in open(
            dumped[0]).read()
    part['status'] = 'passed' if run['rc'] == 0 and result['loss_finite'] and \
        result['iters'] == iters and result.get('amp_optim_wrapper', True) else 'failed'
    part['summary'] = (f"{result['dtype']}, {result['iters']} iterations, loss "
                       f"{fmt(result['loss_first'])} → {fmt(result['loss_last'])}"
                       f"{'' if result['loss_finite'] else ' NOT FINITE'}")
    checks.finish(part, run, log)
