"""The end-to-end demo, smoke preset: a handful of images, one iteration per stage."""
import os.path as osp

import numpy as np
from PIL import Image

from demo import wsss_demo as demo


def test_demo_smoke_runs_every_stage(tmp_path):
    out = demo.main(['--preset', 'smoke', '--work-dir', str(tmp_path)])
    # 3 methods × 3 saliency sources in saliency mode + EPS/EPS++ in no_saliency mode
    assert len(out['results']) == 11
    for r in out['results']:
        assert 0 <= r['miou'] <= 100 and 0 <= r['tau'] <= 0.95
    assert 0 <= out['seg_pseudo'] <= 100 and 0 <= out['seg_gt'] <= 100
    assert 0 <= out['seg_semi'] <= 100  # 10% of the training images on GT
    for png in (out['grid'], out['curves']):
        with Image.open(png) as img:
            img.verify()  # a valid PNG
        with Image.open(png) as img:
            assert img.format == 'PNG' and min(img.size) > 100
            assert np.asarray(img.convert('L')).std() > 0  # not blank
    table = open(osp.join(tmp_path, 'summary.md')).read()
    assert '| ird | SYN_ERRONEOUS | saliency |' in table and 'GT (upper bound)' in table
    assert 'semi: 10% GT' in table
    for m in ('cam', 'eps', 'ird'):
        assert osp.isfile(osp.join(tmp_path, f'cls_{m}', 'iter_1.pth'))
