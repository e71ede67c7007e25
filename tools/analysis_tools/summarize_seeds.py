"""Mean ± std and ± standard error of several seeds of one config, from their work dirs.

    python tools/analysis_tools/summarize_seeds.py WORK_DIR [WORK_DIR ...] [--out FILE.json]
        [--mix-configs]

Each work dir is one seed (e.g. ``tools/train.py CONFIG --work-dir
work_dirs/x_seed1 --cfg-options randomness.seed=1``). Of each, the newest
training run (``<work_dir>/<timestamp>/``; folders that ``tools/test.py`` adds
are skipped) gives its last validation metrics (mmengine's
``vis_data/scalars.json``).

- A newest training run that did not finish (its last validation is not at
  ``train_cfg.max_iters``: stopped, crashed, still running) is an error naming
  it: an older finished run in the same work dir is never reported instead.
- Work dirs whose runs used different configs (other than the seed, the work
  dir and the launcher: ``mmwsss.evaluation.seeds.SEED_KEYS``) are refused,
  with the differing keys, unless ``--mix-configs`` is given.
- A damaged ``scalars.json`` is an error naming the file and the line.
- Each run's config says its evaluation protocol: ``last`` (the default: the
  last validation) or ``wsss-bed`` (the best validation from ``val_begin`` on,
  the checkpoint WSSS-BED reports, chosen on the evaluation set). Runs of
  different protocols are refused, even with ``--mix-configs``.

Prints a table with mean ± std (sample std, n - 1) and mean ± s.e. (standard
error of the mean, std / sqrt(n): what WSSS-BED's tables report); ``--out``
writes the summary, with the run folder of each seed, as JSON (atomically; an
existing file only with ``--force``).
"""
import argparse
import json
import os.path as osp
import sys

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..', '..'))
from mmwsss.evaluation.seeds import (check_same_config, check_same_protocol,  # noqa: E402
                                     newest_run, summarize_runs)
from mmwsss.fileio import atomic_write  # noqa: E402


def main(argv=None):
    from mmwsss.cli import DefaultsHelpFormatter
    p = argparse.ArgumentParser(
        formatter_class=DefaultsHelpFormatter,
        description='mean ± std and ± s.e. over seeds of one config')
    p.add_argument('work_dirs', nargs='+')
    p.add_argument('--out', help='write the summary as JSON (a new file, unless --force)')
    p.add_argument('--force', action='store_true', help='overwrite an existing --out')
    p.add_argument('--mix-configs', action='store_true',
                   help='summarise work dirs that ran different configs')
    args = p.parse_args(argv)
    if args.out:  # before anything is read: a summary never replaces one in silence
        from mmwsss.cli import refuse_overwrite
        refuse_overwrite(args.out, args.force)
    try:
        runs = [newest_run(d) for d in args.work_dirs]
        check_same_protocol(runs)
        if not args.mix_configs:
            check_same_config(runs)
        summary = summarize_runs(runs)
    except (FileNotFoundError, ValueError) as e:
        raise SystemExit(str(e)) from e
    protocol = runs[0].protocol
    print(f'{len(runs)} runs: ' + ', '.join(f'{r.run_dir} (step {r.step})' for r in runs))
    print(f"protocol: {protocol['type']}, {protocol['description']}")
    print('std: sample standard deviation; s.e.: standard error of the mean, std / sqrt(n) '
          "(WSSS-BED's tables report mean ± s.e.)")
    print('| metric | mean ± std | mean ± s.e. | values |\n|---|---|---|---|')
    for k, s in summary.items():
        vals = ', '.join(f'{v:.2f}' for v in s['values'])
        print(f"| {k} | {s['mean']:.2f} ± {s['std']:.2f} | {s['mean']:.2f} ± {s['se']:.2f} "
              f'| {vals} |')
    if args.out:
        data = json.dumps(dict(work_dirs=args.work_dirs, runs=[r.run_dir for r in runs],
                               steps=[r.step for r in runs], protocol=protocol,
                               mixed_configs=args.mix_configs, metrics=summary),
                          indent=2).encode()
        atomic_write(args.out, lambda f: f.write(data))
    return summary


if __name__ == '__main__':
    from mmwsss.cli import run_tool
    run_tool(main)
