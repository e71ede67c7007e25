"""Check every file a config will read, in seconds, before any model is built.

    python tools/check_data.py CONFIG [CONFIG ...] [--cfg-options KEY=VALUE ...]

Prints one line per problem, with the config key and the fix; exits 1 if any.
Several configs (the leaves one will run) share one start-up.
"""
import warnings

# the OpenMMLab stack imports pkg_resources (setuptools < 81); not ours to fix
warnings.filterwarnings('ignore', 'pkg_resources is deprecated', UserWarning)
import argparse
import os.path as osp
import sys

from mmengine.config import DictAction

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..'))
from mmwsss.utils import load_config  # noqa: E402
from mmwsss.utils.data_check import check_data  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description='Check the data files configs read')
    p.add_argument('config', nargs='+')
    p.add_argument('--cfg-options', nargs='+', action=DictAction,
                   help='applied to every config')
    args = p.parse_args(argv)
    problems = []
    for path in args.config:
        found = check_data(load_config(path, args.cfg_options))
        for line in found:
            print(f'{path}: {line}' if len(args.config) > 1 else line)
        if not found:
            print(f'{path}: every file it reads is there')
        problems += found
    if problems:
        raise SystemExit(f'{len(problems)} problem(s) with the data of '
                         f'{", ".join(args.config)}')
    return problems


if __name__ == '__main__':
    main()
