"""The end-to-end demo, smoke preset: a handful of images, one iteration per run."""
import os.path as osp

import numpy as np
from PIL import Image

from demo import wsss_demo as demo


def test_demo_smoke_runs_every_stage_and_prints_a_short_log(tmp_path, capfd):
    out = demo.main(['--preset', 'smoke', '--work-dir', str(tmp_path), '--nproc', '1'])
    printed = capfd.readouterr()
    # 3 classifiers × (no_saliency + 3 saliency sources), scored on the report part
    assert len(out['rows']) == 12
    for r in out['classifiers'].values():
        assert set(r['scores']['SYN_ERRONEOUS']) == {'tune', 'report'}
    for k in ('seg_pseudo', 'seg_semi', 'seg_gt'):
        assert 0 <= out[k] <= 100
    for png in (out['grid'], out['curves']):
        with Image.open(png) as img:
            img.verify()  # a valid PNG
        with Image.open(png) as img:
            assert img.format == 'PNG' and min(img.size) > 100
            assert np.asarray(img.convert('L')).std() > 0  # not blank
    table = open(osp.join(tmp_path, 'summary.md')).read()
    assert '| ird | SYN_ERRONEOUS |' in table and 'GT (upper bound)' in table
    assert '10 % of the images on GT' in table
    assert 'Method study (read from docs/method_study.md): (seeds' in table
    # each run's line names its metric
    assert "demo_ird_s1" in printed.out and \
        "report-part pseudo-label mIoU at the tuning part's τ: no_saliency" in printed.out
    # mmengine's config dumps and hook tables go to each run's log, not the console
    lines = (printed.out + printed.err).replace('\r', '\n').splitlines()
    assert len([ln for ln in lines if ln.strip()]) <= 150
    assert 'Config:' not in printed.out and 'Hooks will be executed' not in printed.err
    log = open(osp.join(tmp_path, 'runs', 'demo_ird_s1', 'job.log')).read()
    assert 'Config:' in log
    for m in ('cam', 'eps', 'ird'):
        assert osp.isfile(osp.join(tmp_path, 'runs', f'demo_{m}_s1', 'iter_1.pth'))
