"""No output among the inputs of any split of its config, in every tool, and no
result overwritten without --force (issue 31, class 7)."""
import json
import os
import os.path as osp
import sys

import pytest

from tests.utils import load_tool

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
EPS = osp.join(ROOT, 'tests', 'configs', 'eps_tiny_voc.py')
FCN = osp.join(ROOT, 'tests', 'configs', 'tiny_fcn_voc_pseudo.py')
DATA = osp.join(ROOT, 'tests', 'data', 'voc')
CAMS = osp.join(DATA, 'activation_maps', 'VOC2012_TEST')
SWEEP = ['--cam-dir', CAMS, '--cam-format', 'bed_png', '--mode', 'no_saliency',
         '--taus', '0.2']


def _gt_of(root):
    gt = osp.join(root, 'SegmentationClassAug')
    return gt, sorted(os.listdir(gt))


def test_eval_refuses_another_splits_gt_folder(voc_copy):
    """Fails before the fix: the sweep reads cam_dataloader and checked only the
    CAM and saliency folders; the training split's GT folder took its files."""
    gt, before = _gt_of(voc_copy)
    with pytest.raises(SystemExit, match=r'--out-dir .* is the GT label map folder '
                       r'\(seg_map_path\) of train_dataloader'):
        load_tool('eval_pseudo_labels').main(
            [EPS, '--out-dir', gt, '--cfg-options',
             f'train_dataloader.dataset.data_root={voc_copy}'] + SWEEP)
    assert sorted(os.listdir(gt)) == before


def test_eval_refuses_to_overwrite_an_earlier_sweep_without_force(tmp_path):
    """Fails before the fix: a second sweep replaced tau_sweep.csv, best.json and
    miou_vs_tau.png in silence."""
    tool = load_tool('eval_pseudo_labels')
    out = tmp_path / 'sweep'
    out.mkdir()
    (out / 'best.json').write_text('{"tau": 0.5}')  # a sweep's result, kept
    with pytest.raises(SystemExit, match=r'best\.json exists; use --force to overwrite it'):
        tool.main([EPS, '--out-dir', str(out)] + SWEEP)
    assert (out / 'best.json').read_text() == '{"tau": 0.5}'
    assert tool.main([EPS, '--out-dir', str(out), '--force'] + SWEEP)['tau'] == 0.2


def test_summarize_seeds_refuses_to_overwrite_out_without_force(tmp_path):
    """Fails before the fix: --out replaced an existing file in silence."""
    from tests.test_eval_pseudo_labels import _records, _seed_run
    _seed_run(tmp_path / 'seed0', '20260101_000000', _records(60.0))
    tool = load_tool('analysis_tools/summarize_seeds')
    out = tmp_path / 'summary.json'
    out.write_text('kept')
    with pytest.raises(SystemExit, match='summary.json exists; use --force to overwrite it'):
        tool.main([str(tmp_path / 'seed0'), '--out', str(out)])
    assert out.read_text() == 'kept'
    tool.main([str(tmp_path / 'seed0'), '--out', str(out), '--force'])
    assert json.loads(out.read_text())['metrics']['mIoU']['values'] == [60.0]


def test_test_out_refuses_the_training_splits_gt_folder(tmp_path, voc_copy, monkeypatch):
    """Fails before the fix: --out was checked against the test split only."""
    gt, before = _gt_of(voc_copy)
    ckpt = tmp_path / 'x.pth'
    ckpt.write_bytes(b'')  # never read: the check comes first
    monkeypatch.setattr(sys, 'argv', [
        'test.py', FCN, str(ckpt), '--work-dir', str(tmp_path / 'w'), '--out', gt,
        '--cfg-options', f'train_dataloader.dataset.data_root={voc_copy}'])
    with pytest.raises(SystemExit, match=r'--out .* is the GT label map folder '
                       r'\(seg_map_path\) of train_dataloader'):
        load_tool('test').main()
    assert sorted(os.listdir(gt)) == before


@pytest.mark.parametrize('tool', ['export_pseudo_labels', 'browse_pseudo_labels'])
def test_pseudo_label_tools_refuse_the_val_splits_gt_folder(voc_copy, tool):
    """Fails before the fix: they read the training split and checked its folders only."""
    gt, before = _gt_of(voc_copy)
    with pytest.raises(SystemExit, match=r'--out-dir .* is the GT label map folder '
                       r'\(seg_map_path\) of val_dataloader'):
        load_tool(tool).main([FCN, '--out-dir', gt, '--cfg-options',
                              f'val_dataloader.dataset.data_root={voc_copy}'])
    assert sorted(os.listdir(gt)) == before


def test_browse_refuses_to_overwrite_an_earlier_page_without_force(tmp_path, monkeypatch):
    """Fails before the fix: a rerun (another τ) replaced pseudo_labels_0.png in silence."""
    import mmwsss.visualization
    monkeypatch.setattr(mmwsss.visualization, 'save_grid_figure',
                        lambda path, *a, **k: open(path, 'w').write('new'))
    page = tmp_path / 'pseudo_labels_0.png'
    page.write_text('kept')
    browse = load_tool('browse_pseudo_labels')
    with pytest.raises(SystemExit, match='pseudo_labels_0.png exists; use --force'):
        browse.main([FCN, '--out-dir', str(tmp_path), '--num', '1'])
    assert page.read_text() == 'kept'
    browse.main([FCN, '--out-dir', str(tmp_path), '--num', '1', '--force'])
    assert page.read_text() == 'new'


def test_make_cams_refuses_the_training_splits_gt_folder(tmp_path, voc_copy):
    """Fails before the fix: make_cams checked the CAM split's folders only."""
    gt, before = _gt_of(voc_copy)
    ckpt = tmp_path / 'x.pth'
    ckpt.write_bytes(b'')  # never loaded: the check comes first
    with pytest.raises(SystemExit, match=r'--out-dir .* is the GT label map folder '
                       r'\(seg_map_path\) of train_dataloader'):
        load_tool('make_cams').main([EPS, str(ckpt), '--out-dir', gt, '--cam-format',
                                     'bed_png', '--work-dir', str(tmp_path / 'w'),
                                     '--cfg-options',
                                     f'train_dataloader.dataset.data_root={voc_copy}'])
    assert sorted(os.listdir(gt)) == before


def test_test_out_refuses_an_earlier_runs_predictions_without_force(tmp_path, monkeypatch):
    """Fails before the fix: a second run wrote over (or beside) the first's predictions."""
    out = tmp_path / 'pred'
    out.mkdir()
    (out / '2007_000033.png').write_bytes(b'kept')
    ckpt = tmp_path / 'x.pth'
    ckpt.write_bytes(b'')
    monkeypatch.setattr(sys, 'argv', ['test.py', FCN, str(ckpt), '--work-dir',
                                      str(tmp_path / 'w'), '--out', str(out)])
    with pytest.raises(SystemExit, match=r'--out .* holds the predictions of an earlier run: '
                       'choose another folder, or use --force'):
        load_tool('test').main()
    assert (out / '2007_000033.png').read_bytes() == b'kept'
