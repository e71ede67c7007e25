"""Part b: the segmentor recipes under torchrun, pseudo labels on the fly against precomputed."""
import os
import os.path as osp
import time
import traceback

from . import runner
from .parse import ratio, read_scalars, train_stats, warmup_of
from .recipes import RECIPES, VARIANTS, recipe_config
from .report import fmt
from .runner import Interrupted, free_port, read_part, tail, write_part


def part_b(checks, part):
    """Runs torchrun per recipe (one for all in a dry run) and judges each variant."""
    a = checks.args
    nproc = a.nproc or (1 if a.dry_run else max(1, int(checks.hw.get('gpu_count') or 0)))
    iters = a.sizes['iters']
    result = dict(nproc=nproc, iters=iters, warmup=warmup_of(iters),
                  num_images=a.sizes['num_images'], image_hw=list(a.sizes['image_hw']),
                  recipes={})
    part['result'] = result
    # one torchrun per recipe (both variants in it); a dry run: one for all
    groups = [a.recipes] if a.dry_run else [[r] for r in a.recipes]
    t_end = time.time() + checks.budget('b')
    status, timed_out = 'passed', False
    for i, group in enumerate(groups):
        left = t_end - time.time()
        if left < 2:
            for r in group:
                result['recipes'][r] = {v: dict(error='not run: part b ran out of time')
                                        for v in VARIANTS}
            timed_out = True
            continue
        name = 'b' if len(groups) == 1 else f'b_{group[0]}'
        log = osp.join(checks.logs, name + '.log')
        cmd = [checks.py, '-m', 'torch.distributed.run', '--nnodes=1',
               f'--nproc_per_node={nproc}', '--master_addr=127.0.0.1',
               f'--master_port={free_port()}'] + checks.worker[1:] + [
                   '--worker', 'b', '--recipes', ','.join(group), '--iters', str(iters)]
        checks.say(f"b: {', '.join(group)} ({nproc} process(es), {iters} iterations × 2)")
        interrupted = None
        try:
            run = runner.run_logged(cmd, log, left / (len(groups) - i), checks.env)
        except Interrupted as e:  # keep what the ranks wrote, then stop
            interrupted, run = e, dict(rc=None, timed_out=False)
        timed_out |= run['timed_out']
        for r in group:
            got = read_part(a, f'b.{r}') or {}
            for v in VARIANTS:
                if not (got.get(v) or {}).get('s_per_iter'):
                    got.setdefault(v, {}).setdefault(
                        'error', 'timeout' if run['timed_out'] else
                        f'no result (exit status {run["rc"]}; see {osp.basename(log)})')
            first = [got[v].get('loss_first') for v in VARIANTS]
            if all(isinstance(x, float) for x in first):
                # same seed, same labels: the first losses should (nearly) agree
                got['loss_first_rel_diff'] = abs(first[0] - first[1]) / max(
                    abs(first[1]), 1e-12)
            got.update(ratio_s_per_iter=ratio(got['on_the_fly'].get('s_per_iter'),
                                              got['precomputed'].get('s_per_iter')),
                       ratio_data_time=ratio(got['on_the_fly'].get('data_s_per_iter'),
                                             got['precomputed'].get('data_s_per_iter')),
                       model_zoo_mem_gb=RECIPES[r][1], model_zoo_source=RECIPES[r][2],
                       log=osp.relpath(log, a.out))
            result['recipes'][r] = got
            if any(got[v].get('error') or not got[v].get('loss_finite') for v in VARIANTS):
                status = 'failed'
                part.setdefault('log_tail', '')
                part['log_tail'] += f'--- {osp.basename(log)}\n{tail(log, 15)}'
        checks.report.write()
        if interrupted:
            raise interrupted
    part['status'] = 'timeout' if timed_out else status
    ok = [r for r, x in result['recipes'].items() if x.get('ratio_s_per_iter')]
    ratios = ', '.join(f"{r} {result['recipes'][r]['ratio_s_per_iter']:.2f}" for r in ok)
    part['summary'] = f'{len(ok)}/{len(a.recipes)} recipes measured' + (
        f'; s/iter on the fly / precomputed: {ratios}' if ok else '')
    part['log'] = 'logs/b*.log'


def worker_b(args) -> None:
    """Under torchrun: per recipe, train the on-the-fly then the precomputed variant
    as tools/train.py does (load, check the data, CPU fallback, Runner)."""
    import gc

    import torch
    from mmwsss.engine import QuietRunner as Runner

    import mmwsss  # noqa: F401
    from mmwsss.config import check_label_overwrite, check_pseudo_label_dirs
    from mmwsss.parallel import setup_cpu_distributed
    from mmwsss.preflight.data import check_data
    data = read_part(args, 'data')
    if data is None:
        raise SystemExit('no generated data (parts/data.json): the prepare step failed')
    rank = int(os.environ.get('RANK', 0))
    iters = args.sizes['iters']
    for recipe in args.recipes:
        res = dict(config=RECIPES[recipe][0])
        for variant in VARIANTS:
            work = osp.join(args.scratch, 'work', 'b', recipe, variant)
            t0 = time.time()
            try:
                cfg = recipe_config(args, recipe, variant, data, iters, work)
                res.update(crop=list(cfg.model.data_preprocessor.size),
                           batch=cfg.train_dataloader.batch_size)
                check_pseudo_label_dirs(cfg)
                check_label_overwrite(cfg)
                problems = check_data(cfg, ('train_dataloader', ))
                if problems:
                    raise RuntimeError('data check: ' + '; '.join(problems))
                setup_cpu_distributed(cfg, 'pytorch')
                runner = Runner.from_cfg(cfg)
                t1 = time.time()
                runner.train()
                stats = train_stats(read_scalars(runner.log_dir), warmup_of(iters))
                stats.update(build_s=round(t1 - t0, 1), train_s=round(time.time() - t1, 1))
                del runner
            except Exception as e:
                traceback.print_exc()
                stats = dict(error=f'{type(e).__name__}: {e}'[-1000:])
            gc.collect()
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            res[variant] = stats
            if rank == 0:
                write_part(args, f'b.{recipe}', res)
                print(f'[gpu_check] b {recipe} {variant}: ' + ', '.join(
                    f'{k} {fmt(v)}' for k, v in stats.items()), flush=True)
