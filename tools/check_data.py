"""Check every file a config will read, in seconds, before any model is built.

    python tools/check_data.py CONFIG [--cfg-options KEY=VALUE ...]

Prints one line per problem, with the config key and the fix; exits 1 if any.
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
    p = argparse.ArgumentParser(description='Check the data files a config reads')
    p.add_argument('config')
    p.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = p.parse_args(argv)
    cfg = load_config(args.config, args.cfg_options)
    problems = check_data(cfg)
    for line in problems:
        print(line)
    if problems:
        raise SystemExit(f'{len(problems)} problem(s) with the data of {args.config}')
    print(f'{args.config}: every file it reads is there')
    return problems


if __name__ == '__main__':
    main()
