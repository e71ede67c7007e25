"""How long ``check_data`` takes on VOC-sized data (issue 23): every one of
10,582 training ids' CAMs and saliency map, 1,449 val masks, a 1,464-id
``gt_subset``, on the file layout of :func:`mmwsss.testing.make_voc_file_layout`.

    python benchmarks/check_data.py [--work-dir /tmp/bench_check_data] [--runs 5]

Times :func:`mmwsss.preflight.data.check_data_report` on the DeepLab-V2 CAM +
VST leaf (semi-supervised: its ``gt_subset`` leaf) against a baseline that
stats each map file in turn (what checking every file one ``stat`` at a time
costs), best of ``--runs``, page cache warm (a first run fills it).
"""
import argparse
import os
import os.path as osp
import sys
import time

ROOT = osp.join(osp.dirname(osp.abspath(__file__)), '..')
sys.path.insert(0, ROOT)

LEAF = 'configs/wsss/deeplabv2_r101-d8_2xb10-10k_voc12aug-321x321_cam-vst.py'
SEMI = 'configs/semi/deeplabv2_r101-d8_2xb10-10k_voc12aug-321x321_eps-vst_semi-1464.py'


def options(root, data):
    return {'train_dataloader.dataset.data_root': root,
            'train_dataloader.dataset.maps_root': root,
            'train_dataloader.dataset.data_prefix.cam_path': data.cam_path,
            'train_dataloader.dataset.data_prefix.sal_path': data.sal_path,
            'val_dataloader.dataset.data_root': root,
            'test_dataloader.dataset.data_root': root}


def stat_each(root, data):
    """The baseline: one stat per expected map file."""
    missing = 0
    for line in open(osp.join(root, data.cls_label_file)):
        img_id, *classes = line.split()
        names = [osp.join(data.sal_path, img_id + '.png')] + \
            [osp.join(data.cam_path, f'{img_id}_{c}.png') for c in classes]
        for name in names:
            try:
                os.stat(osp.join(root, name))
            except OSError:
                missing += 1
    return missing


def best_of(runs, fn):
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def main():
    from mmwsss.cli import DefaultsHelpFormatter, positive_int
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                formatter_class=DefaultsHelpFormatter)
    p.add_argument('--work-dir', default='/tmp/bench_check_data')
    p.add_argument('--runs', type=positive_int, default=5)
    args = p.parse_args()
    from mmwsss.config import load_config
    from mmwsss.preflight.data import check_data_report
    from mmwsss.testing import make_voc_file_layout
    root = osp.abspath(args.work_dir)
    t0 = time.perf_counter()
    data = make_voc_file_layout(root, num_gt_subset=1464)
    print(f'layout: {len(data.ids):,} training ids under {root} ({time.perf_counter() - t0:.1f} s)')
    opts = options(root, data)
    semi_opts = dict(opts, **{
        'train_dataloader.dataset.gt_subset': osp.join(root, 'gt_subset.txt')})
    rows = []
    for name, path, o in (('CAM + VST leaf', LEAF, opts), ('semi-supervised leaf', SEMI,
                                                          semi_opts)):
        cfg = load_config(osp.join(ROOT, path), o)
        check_data_report(cfg)  # fills the page cache
        sec, report = best_of(args.runs, lambda: check_data_report(cfg))
        assert not report.problems, report.problems
        rows.append((name, sec, report.summary()))
    base, missing = best_of(args.runs, lambda: stat_each(root, data))
    assert missing == 0
    print('| check | best of %d | what it checked |\n|---|---|---|' % args.runs)
    for name, sec, summary in rows:
        print(f'| check_data_report, {name} | {sec:.3f} s | {summary} |')
    print(f'| baseline: one stat per CAM and saliency file | {base:.3f} s | the training '
          'maps only |')


if __name__ == '__main__':
    main()
