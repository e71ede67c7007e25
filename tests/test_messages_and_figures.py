"""Issue 30 (the first day, round 3), items 5, 6 and 9: figures and lines that say what
they show, advice that fits the case, and the noise and small things of a normal run."""
import glob
import logging
import os
import os.path as osp
import re
import shutil
import warnings

import numpy as np
import pytest
import torch

from tests.utils import load_tool

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


# ---- 9. the stack's deprecation notices, filtered once, in one place

def _trigger_upstream_warnings():
    """Each Python warning of mmwsss.utils.upstream_noise, raised by the code that
    raises it in a normal run."""
    from mmcv.cnn.bricks.transformer import FFN
    from mmengine.utils import is_installed
    from mmseg.models.builder import build_loss
    is_installed('mmseg')  # reloads pkg_resources, as resolving `mmseg::` does
    build_loss(dict(type='CrossEntropyLoss'))  # a decode head's loss
    FFN(embed_dims=8, feedforward_channels=16, dropout=0.1)  # K-Net's head


def test_upstream_warnings_are_filtered_and_ours_are_not():
    """Fails before the fix: every tool filtered pkg_resources' warning on its own line,
    and nothing filtered mmseg's build_loss or mmcv's FFN notice."""
    from mmwsss.utils.upstream_noise import UPSTREAM_WARNINGS, filter_upstream_warnings
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        _trigger_upstream_warnings()
    seen = ' | '.join(str(w.message) for w in caught)
    for message, _ in UPSTREAM_WARNINGS:  # each entry still matches what upstream says
        assert message in seen, (message, seen)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        filter_upstream_warnings()
        _trigger_upstream_warnings()
        import mmwsss.functional
        mmwsss.functional.cam_path  # ours: a moved name still warns
        from mmseg.models.losses import CrossEntropyLoss
        CrossEntropyLoss()  # upstream, but it says something about the run: kept
    left = ' | '.join(str(w.message) for w in caught)
    assert not [m for m, _ in UPSTREAM_WARNINGS if m in left], left
    assert 'mmwsss.functional.cam_path moved to mmwsss.fileio' in left
    assert 'avg_non_ignore' in left


def test_every_tool_filters_in_the_one_place():
    """No tool or demo script has a filter line of its own; each that runs the stack
    starts through run_tool (which filters) or calls filter_upstream_warnings itself."""
    scripts = glob.glob(osp.join(ROOT, 'tools', '**', '*.py'), recursive=True) + \
        glob.glob(osp.join(ROOT, 'demo', '*.py'))
    for path in scripts:
        src = open(path).read()
        assert 'pkg_resources' not in src and 'filterwarnings(' not in src, path
        if "__name__ == '__main__'" in src and re.search(r'mmengine|mmseg|Runner', src):
            assert 'run_tool(main)' in src or 'filter_upstream_warnings()' in src, path


def test_the_runner_log_drops_upstream_notices_and_can_keep_the_start_up_off_the_console(
        tmp_path, capsys):
    """Fails before the fix: every run logged IoUMetric's prefix and FileClient's
    deprecation, and make_cams printed its whole config on the console."""
    from mmengine.fileio import FileClient
    from mmengine.logging import print_log
    from mmengine.model import BaseModel
    from mmseg.evaluation import IoUMetric

    from mmwsss.engine import QuietRunner

    class Model(BaseModel):
        def forward(self, *args, **kwargs):
            return {}

    class FileOnly(QuietRunner):
        start_up_on_console = False

    runner = FileOnly(model=Model(), work_dir=str(tmp_path), experiment_name='quiet_runner',
                      default_scope='mmseg', cfg=dict(marker_of_the_config=1))
    IoUMetric()  # "The prefix is not set in metric class IoUMetric."
    FileClient.infer_client(None, str(tmp_path))  # CheckpointHook's, in before_train
    print_log('our own warning', logger='current', level=logging.WARNING)
    console = capsys.readouterr().out
    log = open(runner.logger.log_file).read()
    for text in (console, log):
        assert 'our own warning' in text
        assert 'prefix is not set' not in text and 'FileClient' not in text
        assert 'HardDiskBackend' not in text
    assert 'marker_of_the_config' in log and 'Hooks will be executed' in log
    assert 'marker_of_the_config' not in console and 'Hooks will be' not in console
    assert f'environment, config and hooks: {runner.logger.log_file}' in console


def test_make_cams_prints_its_progress_and_result_not_its_config(tmp_path, capsys):
    from mmengine.config import Config
    from mmseg.registry import MODELS
    cfg = osp.join(ROOT, 'tests', 'configs', 'eps_tiny_voc.py')
    ckpt = str(tmp_path / 'eps.pth')
    torch.save({'state_dict': MODELS.build(Config.fromfile(cfg).model).state_dict()}, ckpt)
    load_tool('make_cams').main([cfg, ckpt, '--out-dir', str(tmp_path / 'cams'), '--scales',
                                 '0.5', '--no-flip', '--work-dir', str(tmp_path / 'w')])
    out = capsys.readouterr().out
    assert 'Config:' not in out and 'System environment' not in out, out[:2000]
    assert 'Hooks will be executed' not in out and len(out.splitlines()) < 15, out
    assert 'images written' in out
    log = open(glob.glob(str(tmp_path / 'w' / '*' / '*.log'))[0]).read()
    assert 'Config:' in log and 'Hooks will be executed' in log


# ---- 9. a missing file named once

def test_a_file_two_loaders_read_is_named_once(tmp_path, coco_root):
    """Fails before the fix: a COCO classifier's train and CAM loaders both read the
    instances json, and check_data printed its absence twice."""
    from mmwsss.config import load_config
    from mmwsss.preflight.data import check_data_report, merge_same_problems
    assert merge_same_problems(['a.ann_file: X not found', 'b: other',
                                'c.ann_file: X not found', 'a.ann_file: X not found',
                                'no key here']) == \
        ['a.ann_file, c.ann_file: X not found', 'b: other', 'no key here']
    root = str(tmp_path / 'coco')
    shutil.copytree(coco_root, root)
    os.remove(osp.join(root, 'annotations', 'instances_train2014.json'))
    cfg = load_config(osp.join(ROOT, 'configs', 'eps', 'ird_resnet38_1xb16-100k_coco14-321x321.py'),
                      {'train_dataloader.dataset.data_root': root,
                       'train_dataloader.dataset.maps_root': root,
                       'cam_dataloader.dataset.data_root': root,
                       'cam_dataloader.dataset.maps_root': root})
    lines = [ln for ln in check_data_report(cfg).problems if 'instances_train2014' in ln]
    assert lines == ['train_dataloader.dataset.ann_file, cam_dataloader.dataset.ann_file: '
                     f'{root}/annotations/instances_train2014.json not found'], lines


# ---- 9. --help, the figure's columns, .gitignore, the version

HELP_SCRIPTS = ['tools/train', 'tools/test', 'tools/check_data', 'tools/make_cams',
                'tools/eval_pseudo_labels', 'tools/export_pseudo_labels',
                'tools/browse_pseudo_labels', 'tools/pack_maps',
                'tools/analysis_tools/summarize_seeds', 'tools/analysis_tools/model_budget',
                'tools/dataset_converters/coco2014', 'tools/dataset_converters/draw_gt_subset',
                'tools/model_converters/resnet38_mxnet2pth',
                'tools/model_converters/deeplabv2_coco2mmseg', 'demo/wsss_demo']


def test_help_gives_each_default_once(monkeypatch, capsys):
    """Fails before the fix: pack_maps' --cam-format read "(default bed_png) (default:
    bed_png)", test's --crf-workers "(default: min(4, CPUs)) ... (default: 2)" and the
    demo's --preset "default: about 10 minutes ... (default: default)"."""
    import argparse

    from mmwsss.cli import DefaultsHelpFormatter
    p = argparse.ArgumentParser(prog='t', formatter_class=DefaultsHelpFormatter)
    p.add_argument('--a', default=3, help='workers (default: min(4, CPUs))')
    p.add_argument('--b', default=3, help='workers')
    text = ' '.join(p.format_help().split())
    assert 'workers (default: min(4, CPUs)) --b' in text and 'B workers (default: 3)' in text
    for script in HELP_SCRIPTS:
        if script.startswith('demo/'):
            from demo import wsss_demo as module
        else:
            module = load_tool(script[len('tools/'):])
        monkeypatch.setattr('sys.argv', [script + '.py', '--help'])
        with pytest.raises(SystemExit):
            getattr(module, 'parse_args', module.main)()
        out = capsys.readouterr().out
        assert out.startswith('usage:'), (script, out[:300])
        for block in re.split(r'\n(?=  -)', out.split('\noptions:', 1)[-1]):
            flat = ' '.join(block.split())
            assert len(re.findall(r'default', flat, re.IGNORECASE)) <= 1 or \
                flat.startswith('--preset'), (script, flat)  # a preset named default


def test_column_titles_stay_in_line_over_an_empty_panel():
    """Fails before the fix: an 'n/a' panel (no saliency in no_saliency mode, no GT)
    filled its whole cell, so its title sat above the others."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from mmwsss.visualization import grid_figure
    img = np.zeros((40, 64, 3), np.uint8)  # landscape: the image boxes are short
    row = dict(img=img, cam=np.zeros((40, 64)), saliency=None, pseudo=np.zeros((40, 64),
               np.uint8), gt=None, title='a')
    fig = grid_figure([row, dict(row, title='b')])
    FigureCanvasAgg(fig).draw()
    renderer = fig.canvas.get_renderer()
    tops = [ax.title.get_window_extent(renderer).y0 for ax in fig.axes[:5]]
    assert max(tops) - min(tops) < 0.5, tops
    heights = [ax.get_window_extent(renderer).height for ax in fig.axes[:5]]
    assert max(heights) - min(heights) < 0.5, heights


def test_gitignore_matches_a_venv_symlink():
    """Fails before the fix: '.venv/' matches a folder only, and `ln -s ../env .venv`
    (a shared environment) showed up in git status."""
    lines = open(osp.join(ROOT, '.gitignore')).read().split()
    assert '.venv' in lines and '.venv/' not in lines
    if shutil.which('git') and osp.exists(osp.join(ROOT, '.git')):
        import subprocess
        r = subprocess.run(['git', 'check-ignore', '--no-index', '-q', '.venv'], cwd=ROOT)
        assert r.returncode == 0  # a path that is no folder: a symlink


def test_the_version_is_the_changelogs():
    """Fails before the fix: mmwsss.__version__ said 0.1.0 under a CHANGELOG whose top
    section is 0.2.0 (unreleased), and pyproject.toml held a copy of its own."""
    import tomllib

    from packaging.version import Version

    import mmwsss
    top = re.search(r'^## (\S+)(.*)$', open(osp.join(ROOT, 'CHANGELOG.md')).read(), re.M)
    v = Version(mmwsss.__version__)
    assert v.base_version == top.group(1), (mmwsss.__version__, top.group(0))
    assert v.is_devrelease == ('unreleased' in top.group(2)), (mmwsss.__version__, top.group(0))
    meta = tomllib.load(open(osp.join(ROOT, 'pyproject.toml'), 'rb'))
    assert 'version' not in meta['project'] and meta['project']['dynamic'] == ['version']
    assert meta['tool']['setuptools']['dynamic']['version'] == {
        'attr': 'mmwsss.version.__version__'}


# ---- 5. figures that say what they show

def test_tau_curves_star_the_tau_used_and_ring_each_curves_own_best():
    """Fails before the fix: the demo's figure starred the report part's best τ of each
    curve, not the τ its table used (chosen on the tuning part), and said neither."""
    from mmwsss.visualization import tau_curves_figure
    taus = [0.1, 0.2, 0.3, 0.4]
    fig = tau_curves_figure({'a': (taus, [50, 60, 55, 40]), 'b': (taus, [45, 52, 58, 50])},
                            chosen={'a': 0.3, 'b': 0.3}, chosen_label='τ of the table')
    ax = fig.axes[0]
    marks = [(ln.get_marker(), ln.get_xdata()[0], ln.get_ydata()[0]) for ln in ax.lines
             if len(ln.get_xdata()) == 1]
    assert ('*', 0.3, 55) in marks and ('*', 0.3, 58) in marks  # the τ used, on each
    assert ('o', 0.2, 60) in marks  # a's own best is another τ: ringed
    assert len(marks) == 3  # b's best is the τ used: no ring
    assert [t.get_text() for t in ax.get_legend().get_texts()] == \
        ['a', 'b', 'τ of the table', 'best on this curve']
    plain = tau_curves_figure({'a': (taus, [50, 60, 55, 40])})  # no τ used: the best
    assert [t.get_text() for t in plain.axes[0].get_legend().get_texts()] == \
        ['a', 'best on this curve']
    with pytest.raises(ValueError, match='not one of its τ'):
        tau_curves_figure({'a': (taus, [1, 2, 3, 4])}, chosen={'a': 0.25})


def test_the_per_run_lines_name_their_metric():
    """Fails before the fix: 'demo_cam_s1: 10 s  no_saliency 6.6  SYN_ERRONEOUS 28.3'."""
    from demo.method_study import run_line
    from demo.runs import TAUS
    curve = [float(i) for i in range(len(TAUS))]
    both = dict(tune=dict(miou_miss=curve), report=dict(miou_miss=curve[::-1]))
    r = dict(scores=dict(no_saliency=both, saliency=both))
    assert run_line(dict(kind='cls'), r) == (
        "report-part pseudo-label mIoU at the tuning part's τ: no_saliency 0.0, saliency 0.0")
    tune = dict(tune=dict(miou_miss=curve))
    assert run_line(dict(kind='cls'), dict(scores=dict(no_saliency=tune, saliency=tune))) == (
        'tuning-part pseudo-label mIoU at its best τ: no_saliency 19.0, saliency 19.0')
    assert run_line(dict(kind='seg'), dict(miou=41.23)) == 'val mIoU 41.2'


# ---- 6. advice that fits the case

def _saturated_scores(taus, num_labels=3):
    """Scores of pseudo labels from saturated CAMs without saliency: every pixel of an
    image is its labelled class at every τ below 1 (confusion matrices as the sweep
    makes them)."""
    from mmwsss.evaluation import scores_from_confusion
    from mmwsss.evaluation.metrics import label_confusion
    gt = np.zeros((8, 8), np.uint8)
    gt[2:6, 2:6] = 1
    preds = [np.ones_like(gt) for _ in taus]
    return scores_from_confusion(label_confusion(gt, preds, num_labels))


def test_a_flat_curve_points_at_the_classifier_not_at_a_wider_range():
    """Fails before the fix: saturated CAMs score the same at every τ, the first τ wins
    the tie, and the advice was to widen the τ range below it."""
    from mmwsss.evaluation import choose_tau
    taus = [round(0.05 * i, 2) for i in range(1, 20)]
    s = _saturated_scores(taus)
    assert (s['iou_excl'][:, 0] == 0).all()  # the background IoU: every pixel a class
    choice = choose_tau(taus, s['miou_excl'], background_iou=s['iou_excl'][:, 0])
    assert choice.flat == (0.05, 0.95) and choice.background_zero
    assert (choice.tau, choice.edge, choice.wider) == (0.05, 'low', None)
    advice = choice.advice()
    assert '--tau-range' not in advice and 'No τ range fixes that' in advice
    assert 'saturated' in advice and 'classifier' in advice and 'make_cams' in advice
    # a curve flat over most of the grid with one step at its end is flat too (the
    # smoke demo's: CAMs near 1 except at a few pixels)
    step = choose_tau(taus, [3.6] * 18 + [6.6])
    assert step.flat == (0.05, 0.9) and not step.background_zero and step.tau == 0.95
    assert 'hardly vary' in step.advice() and '--tau-range' not in step.advice()
    # healthy curves keep the edge advice, or none
    assert choose_tau(taus, taus).flat is None
    assert '--tau-range' in choose_tau(taus, taus).advice()
    inside = choose_tau(taus, [-(t - 0.4) ** 2 for t in taus])
    assert inside.flat is None and inside.advice() == ''
    assert choose_tau([0.1, 0.2], [0.5, 0.5]).flat is None  # too few τ to call it flat


def test_eval_pseudo_labels_on_saturated_cams_says_so(tmp_path, voc_root, capsys):
    import json

    from mmwsss.fileio import parse_cls_label_file, save_cams_npz
    from mmwsss.fileio.png import image_hw
    cams = tmp_path / 'cams'
    cams.mkdir()
    for img_id, cls in parse_cls_label_file(
            osp.join(voc_root, 'cls_labels', 'train_aug.txt')).items():
        hw = image_hw(osp.join(voc_root, 'JPEGImages', img_id + '.jpg'))
        save_cams_npz(str(cams / f'{img_id}.npz'), cls, np.ones((len(cls), *hw)))
    out = tmp_path / 'eval'
    load_tool('eval_pseudo_labels').main([
        osp.join(ROOT, 'tests', 'configs', 'eps_tiny_voc.py'), '--cam-dir', str(cams),
        '--out-dir', str(out), '--mode', 'no_saliency'])
    printed = capsys.readouterr().out
    assert 'warning: the score is the same for every τ from 0.05 to 0.95' in printed
    assert 'the background IoU is 0' in printed and '--tau-range' not in printed
    best = json.load(open(out / 'best.json'))
    assert best['tau_curve_flat'] == [0.05, 0.95] and 'classifier' in best['tau_advice']
