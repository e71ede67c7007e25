"""Mean ± std of several seeds of one config, from their work dirs.

    python tools/analysis_tools/summarize_seeds.py WORK_DIR [WORK_DIR ...] [--out FILE.json]

Each work dir is one training run (e.g. ``tools/train.py CONFIG --work-dir
work_dirs/x_seed1 --cfg-options randomness.seed=1``); its last logged validation
metrics are read (mmengine's ``vis_data/scalars.json``). Prints a table; ``--out``
writes the summary as JSON (atomically).
"""
import argparse
import json
import os.path as osp
import sys

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..', '..'))
from mmwsss.evaluation.seeds import summarize_seeds  # noqa: E402
from mmwsss.fileio import atomic_write  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description='mean ± std over seeds of one config')
    p.add_argument('work_dirs', nargs='+')
    p.add_argument('--out', help='write the summary as JSON')
    args = p.parse_args(argv)
    try:
        summary = summarize_seeds(args.work_dirs)
    except (FileNotFoundError, ValueError) as e:
        raise SystemExit(str(e)) from e
    print(f'{len(args.work_dirs)} runs')
    print('| metric | mean ± std | values |\n|---|---|---|')
    for k, s in summary.items():
        vals = ', '.join(f'{v:.2f}' for v in s['values'])
        print(f"| {k} | {s['mean']:.2f} ± {s['std']:.2f} | {vals} |")
    if args.out:
        data = json.dumps(dict(work_dirs=args.work_dirs, metrics=summary), indent=2).encode()
        atomic_write(args.out, lambda f: f.write(data))
    return summary


if __name__ == '__main__':
    main()
