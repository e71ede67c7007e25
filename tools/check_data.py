"""Check every file a config will read, in seconds, before any model is built.

    python tools/check_data.py CONFIG [CONFIG ...] [--cfg-options KEY=VALUE ...]

Every listed image, GT mask, CAM (one per labelled class) and saliency map, the
``gt_subset`` list and masks, and the model's pretrained weights (nothing is
downloaded). Prints one line per problem, with the config key and the fix, and
one summary line per config with the counts; exits 1 if any problem.
Several configs (the leaves one will run) share one start-up.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..'))
from mmwsss.cli import DefaultsHelpFormatter, run_tool  # noqa: E402
from mmwsss.config import DictAction, load_config  # noqa: E402
from mmwsss.preflight.data import check_data_report  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description='Check the data files and pretrained weights '
                                'that configs read',
                                formatter_class=DefaultsHelpFormatter)
    p.add_argument('config', nargs='+')
    p.add_argument('--cfg-options', nargs='+', action=DictAction,
                   help='applied to every config')
    p.add_argument('--skip-weights', action='store_true',
                   help="do not check the model's pretrained weights")
    args = p.parse_args(argv)
    problems, failed = [], []
    for path in args.config:
        report = check_data_report(load_config(path, args.cfg_options),
                                   weights=not args.skip_weights)
        prefix = f'{path}: ' if len(args.config) > 1 else ''
        for line in report.problems:
            print(prefix + line)
        print(f'{prefix or "check_data: "}{report.summary()}')
        if report.problems:
            failed.append(path)
        problems += report.problems
    if problems:
        raise SystemExit(f'{len(problems)} problem(s) with the data of {", ".join(failed)}')
    return problems


if __name__ == '__main__':
    run_tool(main)
