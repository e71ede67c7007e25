"""Draw a seeded GT subset of a split for semi-supervised training (``gt_subset``).

    python tools/dataset_converters/draw_gt_subset.py SPLIT_LIST OUT_LIST
        (--size N | --fraction F) [--seed 0] [--force]

``SPLIT_LIST`` is an image id list (one a line, e.g. ``ImageSets/Segmentation/
train_aug.txt``) or a WSSS-BED class list (``<id> <c> ...``: the first column is
used). The subset keeps the split's order and is the same for the same list and
seed; it is written atomically and never over an existing file without ``--force``.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..', '..'))
from mmwsss.cli import refuse_overwrite  # noqa: E402
from mmwsss.errors import WSSSInputError  # noqa: E402
from mmwsss.fileio import atomic_write, draw_subset, read_id_list  # noqa: E402


def parse_args(argv=None):
    from mmwsss.cli import DefaultsHelpFormatter, fraction, nonneg_int, positive_int
    p = argparse.ArgumentParser(
        formatter_class=DefaultsHelpFormatter,
        description='Draw a seeded GT subset of a split')
    p.add_argument('split_list', help='image id list (or WSSS-BED class list) of the split')
    p.add_argument('out_list', help='the gt_subset list file to write')
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument('--size', type=positive_int, help='number of images with GT')
    g.add_argument('--fraction', type=fraction, help='fraction of the split with GT')
    p.add_argument('--seed', type=nonneg_int, default=0)
    p.add_argument('--force', action='store_true', help='overwrite OUT_LIST')
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if not osp.isfile(args.split_list):
        raise SystemExit(f'split list not found: {args.split_list}')
    try:
        ids = read_id_list(args.split_list, 'split list')
    except WSSSInputError as e:
        raise SystemExit(str(e)) from e
    refuse_overwrite(args.out_list, args.force, args.split_list, 'is the split list it is '
                     'drawn from: --force would replace the split by its subset; name another '
                     'file')
    try:
        subset = draw_subset(ids, args.size, args.fraction, args.seed)
    except ValueError as e:
        raise SystemExit(f'{args.split_list}: {e}') from e
    data = ('\n'.join(subset) + '\n').encode()
    atomic_write(args.out_list, lambda f: f.write(data))
    print(f'{len(subset)} of {len(ids)} images (seed {args.seed}) in {args.out_list}')
    return subset


if __name__ == '__main__':
    from mmwsss.cli import run_tool
    run_tool(main)
