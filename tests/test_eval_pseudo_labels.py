"""tools/eval_pseudo_labels.py equals a brute-force per-τ computation."""
import csv
import json
import os
import os.path as osp
import re
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

import mmwsss  # noqa: F401
from mmwsss.errors import WSSSInputError
from mmwsss.evaluation import label_confusion, scores_from_confusion
from mmwsss.fileio import CAMStore, read_saliency
from mmwsss.functional import PseudoLabelRule
from tests.utils import load_tool

eval_pseudo_labels = load_tool('eval_pseudo_labels')

CFG = osp.join(osp.dirname(__file__), 'configs', 'eps_tiny_voc.py')
TAUS = [0.05, 0.2, 0.35, 0.5, 0.8]
IDS = ['2007_000032', '2007_000039', '2008_000002', '2009_000010']
LABELS = {'2007_000032': [0, 14], '2007_000039': [19], '2008_000002': [11, 14],
          '2009_000010': [6]}


def brute_force(root, tau, mode, ignore_unassigned):
    """Per τ, pixel by pixel: IoU under both conventions for predicted 255."""
    tp, fp, fn_excl, fn_miss = (np.zeros(21) for _ in range(4))
    ignored = total = 0
    for img_id in IDS:
        gt = np.asarray(Image.open(osp.join(root, 'SegmentationClassAug', img_id + '.png')))
        cams, keys = CAMStore(osp.join(root, 'activation_maps', 'VOC2012_TEST')).load(
            img_id, LABELS[img_id], gt.shape)
        sal = read_saliency(osp.join(root, 'saliency_maps', 'VOC2012_TEST', img_id + '.png'))
        pred = PseudoLabelRule(tau, mode, 0.2, ignore_unassigned)(cams, keys, sal)
        for g, p in zip(gt.ravel().tolist(), pred.ravel().tolist()):
            if g == 255:
                continue
            total += 1
            if p == 255:
                ignored += 1
                fn_miss[g] += 1
            elif p == g:
                tp[g] += 1
            else:
                fp[p] += 1
                fn_excl[g] += 1
                fn_miss[g] += 1
    present = (tp + fp + fn_miss) > 0

    def miou(fn):
        u = tp + fp + fn
        return np.mean(tp[u > 0] / u[u > 0])

    return miou(fn_excl), miou(fn_miss), ignored / total, present


@pytest.mark.parametrize('mode', ['saliency', 'no_saliency'])
def test_sweep_equals_brute_force(tmp_path, voc_root, mode):
    out = str(tmp_path / 'eval')
    args = [CFG, '--cam-dir', osp.join(voc_root, 'activation_maps', 'VOC2012_TEST'),
            '--cam-format', 'bed_png', '--out-dir', out, '--mode', mode,
            '--taus'] + [str(t) for t in TAUS]
    if mode == 'saliency':
        args += ['--sal-dir', osp.join(voc_root, 'saliency_maps', 'VOC2012_TEST')]
    summary = eval_pseudo_labels.main(args)
    rows = list(csv.DictReader(open(osp.join(out, 'tau_sweep.csv'))))
    assert [float(r['tau']) for r in rows] == TAUS
    best_excl = []
    for tau, row in zip(TAUS, rows):
        excl, miss, ign, _ = brute_force(voc_root, tau, mode, True)
        assert float(row['miou_excl']) == pytest.approx(excl, abs=1e-6)
        assert float(row['miou_miss']) == pytest.approx(miss, abs=1e-6)
        assert float(row['ignored_share']) == pytest.approx(ign, abs=1e-6)
        best_excl.append(excl)
        if mode == 'no_saliency':
            assert ign == 0 and excl == pytest.approx(miss)
    assert summary['tau'] == TAUS[int(np.argmax(best_excl))]
    best = json.load(open(osp.join(out, 'best.json')))
    assert best['tau'] == summary['tau'] and best['miou'] == pytest.approx(max(best_excl), abs=1e-6)
    assert best['num_images'] == 4
    with open(osp.join(out, 'miou_vs_tau.png'), 'rb') as f:
        assert f.read(8) == b'\x89PNG\r\n\x1a\n'


def test_scores_hand_computed():
    # 2 labels; GT [0,0,1,1,255], prediction [0,1,1,255,0]
    gt = np.array([[0, 0, 1, 1, 255]], np.uint8)
    pred = np.array([[0, 1, 1, 255, 0]], np.uint8)
    cm = label_confusion(gt, [pred], 2)
    assert cm[0].tolist() == [[1, 1, 0], [0, 1, 1]]
    s = scores_from_confusion(cm)
    # excl: IoU0 = 1/(1+0+1), IoU1 = 1/(1+1+0); miss: IoU1 = 1/(1+1+1)
    np.testing.assert_allclose(s['iou_excl'][0], [0.5, 0.5])
    np.testing.assert_allclose(s['iou_miss'][0], [0.5, 1 / 3])
    np.testing.assert_allclose(s['precision'][0], [1.0, 0.5])
    np.testing.assert_allclose(s['recall_miss'][0], [0.5, 0.5])
    assert s['ignored_share'][0] == pytest.approx(0.25)


def test_missing_cams_are_listed(tmp_path, voc_copy):
    cam_dir = osp.join(voc_copy, 'activation_maps', 'VOC2012_TEST')
    os.remove(osp.join(cam_dir, '2008_000002_11.png'))
    os.remove(osp.join(cam_dir, '2009_000010_6.png'))
    with pytest.raises(WSSSInputError, match=r'2 CAM file\(s\) missing(.|\n)*2008_000002_11.png'
                       r'(.|\n)*2009_000010_6.png'):
        eval_pseudo_labels.main([CFG, '--cam-dir', cam_dir, '--cam-format', 'bed_png',
                                 '--sal-dir', osp.join(voc_copy, 'saliency_maps',
                                                       'VOC2012_TEST'),
                                 '--out-dir', str(tmp_path / 'e'),
                                 '--cfg-options',
                                 f'cam_dataloader.dataset.data_root={voc_copy}'])


@pytest.mark.parametrize('k,dtype', [(1, 'uint8'), (2, 'uint8'), (3, 'uint8'), (2, 'float16')])
@pytest.mark.parametrize('mode', ['saliency', 'no_saliency'])
def test_compacted_sweep_equals_full_image_rule(tmp_path, k, dtype, mode):
    """Grouping pixels (dense count for uint8 CAMs, a sort of the float bits
    for float16 ones) gives exactly the confusion of the rule on every pixel."""
    from mmwsss.evaluation import pseudo_label_confusion
    from mmwsss.fileio import save_cams_npz
    rng = np.random.default_rng(k)
    h, w = 23, 31
    classes = sorted(rng.choice(20, k, replace=False).tolist())
    cams = rng.random((k, h, w)) ** 2
    save_cams_npz(str(tmp_path / 'a.npz'), classes, cams, dtype)
    sal = rng.integers(0, 256, (h, w)).astype(np.uint8)
    Image.fromarray(sal).save(tmp_path / 'a.png')
    gt = rng.choice([0, 255] + [c + 1 for c in classes], (h, w)).astype(np.uint8)
    maps = CAMStore(str(tmp_path), 'npz').load('a', classes, gt.shape) + (
        sal if mode == 'saliency' else None, )
    args = (gt, maps, PseudoLabelRule(mode=mode), TAUS + [0.0, 1.0], 21)
    full = pseudo_label_confusion(*args, compact=False)
    compacted = pseudo_label_confusion(*args)
    assert full.sum() == (gt != 255).sum() * (len(TAUS) + 2)
    np.testing.assert_array_equal(compacted, full)


def test_cam_format_read_from_the_store_meta(tmp_path, voc_root):
    """Without --cam-format, the format tools/make_cams.py recorded is used."""
    import shutil
    cam_dir = str(tmp_path / 'cams')
    shutil.copytree(osp.join(voc_root, 'activation_maps', 'VOC2012_TEST'), cam_dir)
    with open(osp.join(cam_dir, 'meta.json'), 'w') as f:
        json.dump(dict(settings=dict(cam_format='bed_png')), f)
    args = eval_pseudo_labels.parse_args([CFG, '--cam-dir', cam_dir, '--out-dir', 'x',
                                          '--mode', 'no_saliency'])
    assert args.cam_format == 'bed_png'
    args = eval_pseudo_labels.parse_args([CFG, '--cam-dir', cam_dir, '--out-dir', 'x',
                                          '--mode', 'no_saliency', '--cam-format', 'bed_png'])
    assert args.cam_format == 'bed_png'  # another format than recorded: an error (below)
    summary = eval_pseudo_labels.main([CFG, '--cam-dir', cam_dir, '--out-dir',
                                       str(tmp_path / 'e'), '--mode', 'no_saliency',
                                       '--taus', '0.2'])
    assert summary['cam_format'] == 'bed_png' and summary['num_images'] == 4


def test_sweep_varies_the_rule_only_in_tau():
    rule = PseudoLabelRule(tau=0.3, mode='no_saliency', ignore_index=200)
    assert replace(rule, tau=0.5) == PseudoLabelRule(0.5, 'no_saliency', 0.2, True, 200)


def test_sweep_result_is_the_segmentor_pseudo_label_source_in_one_step(tmp_path, voc_root,
                                                                      monkeypatch):
    """Stage 3 -> 4: ``tools/train.py --pseudo-labels best.json`` (``load_config``)
    trains on the CAM store, saliency folder, τ and mode the sweep chose."""
    from mmengine.config import Config
    from mmseg.registry import DATASETS

    from mmwsss.config import load_config
    cam_dir = osp.join(voc_root, 'activation_maps', 'VOC2012_TEST')
    sal_dir = osp.join(voc_root, 'saliency_maps', 'VOC2012_TEST')
    out = str(tmp_path / 'eval')
    best = eval_pseudo_labels.main([CFG, '--cam-dir', cam_dir, '--cam-format', 'bed_png',
                                    '--sal-dir', sal_dir, '--out-dir', out,
                                    '--taus', '0.05', '0.8'])
    seg_cfg = osp.join(osp.dirname(__file__), 'configs', 'seg_tiny_deeplabv2_voc.py')
    monkeypatch.syspath_prepend(osp.dirname(seg_cfg))  # its custom_imports
    before = Config.fromfile(seg_cfg).train_dataloader.dataset
    cfg = load_config(seg_cfg, pseudo_labels=out)
    ds_cfg = cfg.train_dataloader.dataset
    assert ds_cfg.pseudo_label_cfg.tau == best['tau'] != before.pseudo_label_cfg.tau
    assert ds_cfg.data_prefix.cam_path == osp.abspath(cam_dir)
    assert ds_cfg.data_prefix.sal_path == osp.abspath(sal_dir)
    ds = DATASETS.build(dict(ds_cfg, pipeline=[dict(type='LoadImageFromFile')]))
    sample = ds[0]
    rule = PseudoLabelRule(tau=best['tau'], mode='saliency')
    store = CAMStore(cam_dir, 'bed_png')
    img_id = sample['img_id']
    h, w = sample['ori_shape']
    cams, keys = store.load(img_id, sample['cls_labels'], (h, w), 20)
    sal = read_saliency(osp.join(sal_dir, img_id + '.png'), img_id, (h, w))
    np.testing.assert_array_equal(sample['gt_seg_map'], rule(cams, keys, sal))
    with pytest.raises(ValueError, match='not a τ sweep result'):
        json.dump({'tau': 0.1}, open(tmp_path / 'x.json', 'w'))
        load_config(seg_cfg, pseudo_labels=str(tmp_path / 'x.json'))


def test_sweep_result_with_crf_trains_on_the_labels_that_were_scored(tmp_path, voc_root,
                                                                     monkeypatch):
    """Fails before the fix (issue 21, BAD 6): ``--pseudo-labels best.json`` dropped
    the ``crf`` that best.json records, and 20.8 % of the label pixels differed from
    those that were scored. Now training, browse_pseudo_labels and
    export_pseudo_labels (which take ``--pseudo-labels`` too, issue 23) apply it,
    and one log line says what was applied."""
    pytest.importorskip('pydensecrf.densecrf')
    import mmcv
    from mmseg.registry import DATASETS

    import mmwsss.config.loading as config_loading
    import mmwsss.visualization
    from mmwsss.config import load_config
    from mmwsss.fileio import cams_to_unit
    from mmwsss.functional.dense_crf import crf_label
    cam_dir = osp.join(voc_root, 'activation_maps', 'VOC2012_TEST')
    best = tmp_path / 'best.json'
    best.write_text(json.dumps(dict(cam_dir=cam_dir, cam_format='bed_png', sal_dir=None,
                                    mode='no_saliency', tau=0.3, crf='psa',
                                    ignore_unassigned=True, sal_threshold=0.2)))
    seg_cfg = osp.join(osp.dirname(__file__), 'configs', 'seg_tiny_deeplabv2_voc.py')
    monkeypatch.syspath_prepend(osp.dirname(seg_cfg))  # its custom_imports
    logged = []
    monkeypatch.setattr(config_loading, 'print_log', lambda msg, **k: logged.append(msg))
    cfg = load_config(seg_cfg, pseudo_labels=str(best))
    assert cfg.train_dataloader.dataset.pseudo_label_cfg.crf == 'psa'
    assert len(logged) == 1 and all(w in logged[0] for w in (
        str(best), cam_dir, 'saliency none', 'τ=0.3', 'mode no_saliency', 'crf psa'))
    ds = DATASETS.build(dict(cfg.train_dataloader.dataset,
                             pipeline=[dict(type='LoadImageFromFile')]))
    sample = ds[0]
    img_id = sample['img_id']
    cams, keys = CAMStore(cam_dir, 'bed_png').load(img_id, sample['cls_labels'],
                                                   sample['ori_shape'], 19)
    rgb = mmcv.imread(sample['img_path'], channel_order='rgb')
    want = crf_label(rgb, cams_to_unit(cams), keys, 0.3, 'psa')  # what the sweep scored
    np.testing.assert_array_equal(sample['gt_seg_map'], want)

    drawn = []
    monkeypatch.setattr(mmwsss.visualization, 'save_grid_figure',
                        lambda path, rows, *a, **k: drawn.append(rows))
    load_tool('browse_pseudo_labels').main([seg_cfg, '--out-dir', str(tmp_path / 'vis'),
                                            '--ids', img_id, '--pseudo-labels', str(best)])
    np.testing.assert_array_equal(drawn[0][0]['pseudo'], want)
    export = load_tool('export_pseudo_labels')
    out = str(tmp_path / 'labels')
    export.main([seg_cfg, '--out-dir', out, '--pseudo-labels', str(best), '--cfg-options',
                 'train_dataloader.dataset.ann_file=ImageSets/Segmentation/train.txt'])
    assert json.load(open(osp.join(out, 'meta.json')))['settings']['pseudo_label']['crf'] == \
        'psa'


@pytest.mark.parametrize('content,msg', [
    ('{"cam_dir": "c", "tau": 0.1,', 'not valid JSON'),
    ('[1, 2]', 'not a τ sweep result'),
    ('{"tau": 0.1}', r"not a τ sweep result \(no \['cam_dir', 'mode'\]\)"),
    ('{"cam_dir": 3, "tau": 0.1, "mode": "no_saliency"}', 'cam_dir must be a folder path'),
    ('{"cam_dir": "c", "tau": "0.1", "mode": "no_saliency"}', 'tau must be a number in'),
    ('{"cam_dir": "c", "tau": 1.5, "mode": "no_saliency"}', r'tau must be a number in \[0, 1\]'),
    ('{"cam_dir": "c", "tau": true, "mode": "no_saliency"}', 'tau must be a number'),
    ('{"cam_dir": "c", "tau": 0.1, "mode": "cam"}', 'mode must be one of'),
    ('{"cam_dir": "c", "tau": 0.1, "mode": "saliency"}', "mode 'saliency' needs sal_dir"),
    ('{"cam_dir": "c", "tau": 0.1, "mode": "no_saliency", "crf": "dense"}', 'crf must be'),
    ('{"cam_dir": "c", "tau": 0.1, "mode": "saliency", "sal_dir": "s", "crf": "psa"}',
     'refines CAM-only labels'),
])
def test_a_damaged_sweep_result_is_named_with_what_is_wrong(content, msg, tmp_path):
    """Fails before the fix (issue 21, WEAK): a malformed best.json gave a bare
    JSONDecodeError or TypeError (or trained on a string τ), naming no file."""
    from mmengine.config import Config

    from mmwsss.config.loading import apply_sweep_result
    path = tmp_path / 'best.json'
    path.write_text(content)
    cfg = Config(dict(train_dataloader=dict(dataset=dict(
        type='VOCWSSSDataset', pseudo_labels=True, pseudo_label_cfg=dict(tau=0.1),
        data_prefix=dict()))))
    with pytest.raises(WSSSInputError, match=rf"best\.json'.*{msg}"):
        apply_sweep_result(cfg, str(path))


def test_crf_sweep_end_to_end_and_the_protocol_fields(tmp_path, voc_root):
    """--crf: each τ's CAM-only label refined by DenseCRF (PSA preset), scored as
    the same labels made directly; best.json says what was measured."""
    pytest.importorskip('pydensecrf.densecrf')
    import mmcv

    from mmwsss.evaluation import dataset_items
    from mmwsss.fileio import cams_to_unit, read_label_png
    from mmwsss.functional.dense_crf import crf_label
    from mmengine.config import Config
    cam_dir = osp.join(voc_root, 'activation_maps', 'VOC2012_TEST')
    out = str(tmp_path / 'crf')
    best = eval_pseudo_labels.main([CFG, '--cam-dir', cam_dir, '--cam-format', 'bed_png',
                                    '--mode', 'no_saliency', '--crf', '--out-dir', out,
                                    '--taus', '0.3'])
    for key in ('split', 'split_list', 'num_images', 'crf', 'ignore', 'cam_dir', 'tau',
                'mode', 'per_class_precision', 'per_class_recall', 'per_class_iou'):
        assert key in best, key
    assert best['crf'] == 'psa' and best['num_images'] == 4 and best['split'] == 'cam_dataloader'
    items, c, _ = dataset_items(Config.fromfile(CFG).cam_dataloader.dataset)
    store = CAMStore(cam_dir, 'bed_png')
    cm = 0
    for img_id, gt_path, cls, img_path in items:
        gt = read_label_png(gt_path)
        cams, keys = store.load(img_id, cls, gt.shape, c - 1)
        pred = crf_label(mmcv.imread(img_path, channel_order='rgb'), cams_to_unit(cams), keys,
                         0.3, 'psa')
        cm = cm + label_confusion(gt, [pred], c + 1)
    s = scores_from_confusion(cm)
    assert best['miou_excl'] == pytest.approx(float(s['miou_excl'][0]), abs=1e-9)
    prec = {k: v for k, v in best['per_class_precision'].items() if v is not None}
    assert prec and all(0 <= v <= 1 for v in prec.values())
    header = next(csv.reader(open(osp.join(out, 'tau_sweep.csv'))))
    assert 'precision_person' in header and 'recall_person' in header
    with pytest.raises(SystemExit):  # CRF refines CAM-only labels
        eval_pseudo_labels.main([CFG, '--cam-dir', cam_dir, '--out-dir', out, '--crf',
                                 '--sal-dir', cam_dir])


def _seed_run(work_dir, stamp, records, max_iters=20, seed=0, tau=0.1, log=None, extra=''):
    """One training run in mmengine's layout: <work_dir>/<stamp>/{<stamp>.log,
    vis_data/scalars.json, vis_data/config.py}; ``extra``: more config lines."""
    run = work_dir / stamp
    (run / 'vis_data').mkdir(parents=True)
    (run / f'{stamp}.log').write_text(log or 'mmengine - INFO - Iter(train) [10/20]\n')
    if records is not None:
        with open(run / 'vis_data' / 'scalars.json', 'w') as f:
            f.write(''.join(json.dumps(r) + '\n' for r in records))
    (run / 'vis_data' / 'config.py').write_text(
        f"train_cfg = dict(type='IterBasedTrainLoop', max_iters={max_iters})\n"
        "default_hooks = dict(logger=dict(type='LoggerHook', log_metric_by_epoch=False))\n"
        f'randomness = dict(seed={seed})\n'
        f"work_dir = '{work_dir}'\nexperiment_name = 'x_{stamp}'\n"
        f'train_dataloader = dict(dataset=dict(pseudo_label_cfg=dict(tau={tau})))\n' + extra)
    return run


def _records(miou, acc=90.0):
    # as mmengine logs them: train, val, ...; the last validation at max_iters (20)
    return [dict(loss=1.0, step=10), dict(mIoU=miou - 5, aAcc=80.0, step=10),
            dict(loss=0.5, step=20), dict(mIoU=miou, aAcc=acc, step=20)]


def test_seed_summary_equals_hand_computed_mean_and_std(tmp_path, capsys):
    dirs = []
    for seed, miou in enumerate([60.0, 62.0, 67.0]):
        _seed_run(tmp_path / f'seed{seed}', '20260101_000000', _records(miou, 90.0 + seed),
                  seed=seed)
        dirs.append(str(tmp_path / f'seed{seed}'))
    out = str(tmp_path / 'summary.json')
    s = load_tool('analysis_tools/summarize_seeds').main(dirs + ['--out', out])
    # mean 63, sample std sqrt(((-3)^2 + (-1)^2 + 4^2) / 2) = sqrt(13), s.e. sqrt(13 / 3)
    assert s['mIoU']['mean'] == pytest.approx(63.0)
    assert s['mIoU']['std'] == pytest.approx(13 ** 0.5)
    assert s['mIoU']['se'] == pytest.approx((13 / 3) ** 0.5)
    assert s['aAcc']['mean'] == pytest.approx(91.0) and s['aAcc']['std'] == pytest.approx(1.0)
    assert json.load(open(out))['metrics']['mIoU']['values'] == [60.0, 62.0, 67.0]
    printed = capsys.readouterr().out
    assert '63.00 ± 3.61 | 63.00 ± 2.08' in printed and 'standard error' in printed


def test_seed_summary_refuses_unfinished_mixed_or_damaged_runs(tmp_path, capsys):
    """Fails before the fix: an older finished run was reported when the newest run of a
    work dir did not finish; seeds of different configs (τ 0.1 and 0.3) were averaged in
    silence; a truncated scalars.json gave a JSONDecodeError naming no file; only the std
    was printed, not the standard error WSSS-BED's tables use."""
    tool = load_tool('analysis_tools/summarize_seeds')
    a, b = tmp_path / 'a', tmp_path / 'b'
    _seed_run(a, '20260101_000000', _records(60.0))
    _seed_run(b, '20260101_000000', _records(70.0), seed=1, tau=0.3)
    with pytest.raises(SystemExit, match=r'(?s)ran different configs \(1 key.*\n  train_dataloader'
                                         r'\.dataset\.pseudo_label_cfg\.tau: 0\.1 vs 0\.3'
                                         r'.*--mix-configs'):
        tool.main([str(a), str(b)])  # the seeds and work dirs differ too: allowed
    assert tool.main([str(a), str(b), '--mix-configs'])['mIoU']['mean'] == 65.0
    # a test run's folder (no training in it) is newer and skipped
    test_run = a / '20260103_000000'
    test_run.mkdir()
    (test_run / '20260103_000000.log').write_text('mmengine - INFO - Iter(test) [4/4]\n')
    assert tool.main([str(a)])['mIoU']['values'] == [60.0]
    # the newest training run stopped at iteration 10: an error naming it, not the old run
    _seed_run(a, '20260102_000000', _records(99.0)[:2])
    with pytest.raises(SystemExit, match=r'20260102_000000: the newest training run of .*a did '
                                         r'not finish: its last validation is at step 10, not '
                                         r'at the last, 20 \(1 older run'):
        tool.main([str(a)])
    (a / '20260102_000000' / 'vis_data' / 'scalars.json').write_text('')
    with pytest.raises(SystemExit, match='it logged no validation'):
        tool.main([str(a)])
    # a training run that stopped before its first scalar (only the log says it trained)
    (a / '20260102_000000' / 'vis_data' / 'scalars.json').unlink()
    with pytest.raises(SystemExit, match='20260102_000000.*did not finish'):
        tool.main([str(a)])
    # cut short by a kill: the file and the line
    c = tmp_path / 'c'
    run = _seed_run(c, '20260101_000000', _records(60.0))
    with open(run / 'vis_data' / 'scalars.json', 'a') as f:
        f.write('{"mIoU": 6')
    with pytest.raises(SystemExit, match=r'c/20260101_000000/vis_data/scalars\.json, line 5: '
                                         r'not a JSON record'):
        tool.main([str(c)])


# a run trained under WSSS-BED's protocol, as tools/train.py dumps its config (20 iterations:
# validation from iteration 13 on)
BED_RUN = ("eval_protocol = dict(type='wsss-bed', val_from=0.6, val_interval=2, "
           "metric='mIoU')\ntrain_cfg = dict(type='IterBasedTrainLoop', max_iters=20, "
           'val_begin=13, val_interval=2)\n')


def test_seed_summary_under_wsss_bed_reports_the_best_validation_after_val_begin(tmp_path,
                                                                                 capsys):
    tool = load_tool('analysis_tools/summarize_seeds')
    dirs = []
    for seed, (early, best, last) in enumerate([(90.0, 64.0, 62.0), (99.0, 66.0, 66.0)]):
        records = [dict(mIoU=early, step=10),  # before val_begin: never chosen
                   dict(mIoU=best, aAcc=81.0, step=14), dict(mIoU=best - 1, step=16),
                   dict(mIoU=last, aAcc=80.0, step=20)]
        _seed_run(tmp_path / f's{seed}', '20260101_000000', records, seed=seed, extra=BED_RUN)
        dirs.append(str(tmp_path / f's{seed}'))
    out = str(tmp_path / 'summary.json')
    s = tool.main(dirs + ['--out', out])
    # seed 1 ties 66 at steps 14 and 20: the first best, as mmengine's save_best keeps it
    assert s['mIoU']['values'] == [64.0, 66.0] and s['aAcc']['values'] == [81.0, 81.0]
    saved = json.load(open(out))
    assert saved['steps'] == [14, 14] and saved['protocol']['type'] == 'wsss-bed'
    assert saved['protocol']['selects_on_eval'] is True
    assert 'chosen on the evaluation set' in capsys.readouterr().out
    # a last-iteration run is never averaged with these, --mix-configs or not
    _seed_run(tmp_path / 'last', '20260101_000000', _records(60.0))
    for extra in ([], ['--mix-configs']):
        with pytest.raises(SystemExit, match=r'different evaluation protocols.*last: .*'
                                             r'wsss-bed: '):
            tool.main(dirs + [str(tmp_path / 'last')] + extra)
    # the protocol declared but not applied (mmseg's own train.py): refused, not read as 'last'
    _seed_run(tmp_path / 'raw', '20260101_000000', _records(60.0), extra=BED_RUN.split('\n')[0])
    with pytest.raises(SystemExit, match=r"declares eval_protocol 'wsss-bed' but the run "
                                         r'validated with val_begin=None.*instead of 13, 2'):
        tool.main([str(tmp_path / 'raw')])


@pytest.mark.parametrize('value', ['72.5', None, True, float('nan')])
def test_seed_summary_refuses_a_score_that_is_not_a_number(value, tmp_path):
    """Fails before the fix: a last-validation mIoU logged as the string "72.5" or true
    was averaged as 72.5 or 1.0, NaN went into the mean, null gave a bare TypeError
    naming no file."""
    tool = load_tool('analysis_tools/summarize_seeds')
    records = _records(60.0)
    records[-1]['mIoU'] = value
    _seed_run(tmp_path / 'a', '20260101_000000', records)
    with pytest.raises(SystemExit, match=r'a/20260101_000000/vis_data/scalars\.json: the last '
                                         r'validation record \(step 20\) holds values that '
                                         r"are not finite numbers: \{'mIoU'"):
        tool.main([str(tmp_path / 'a')])


@pytest.mark.parametrize('tau', ['nan', '7', '-0.1'])
def test_tau_outside_0_1_is_refused(tau, tmp_path, voc_root):
    """Fails before the fix: --taus nan was accepted and written to best.json as the best,
    at 'mIoU 100.00'."""
    cam_dir = osp.join(voc_root, 'activation_maps', 'VOC2012_TEST')
    with pytest.raises(SystemExit):
        eval_pseudo_labels.main([CFG, '--cam-dir', cam_dir, '--out-dir', str(tmp_path),
                                 '--mode', 'no_saliency', '--taus', '0.2', tau])
    assert not osp.exists(osp.join(tmp_path, 'best.json'))


def test_a_tau_that_ignores_nearly_everything_cannot_win(tmp_path):
    """Fails before the fix: under 'excl' the τ with the fewest scored pixels won."""
    taus = [0.1, 0.9]
    scores = dict(miou_excl=np.array([0.6, 0.99]), miou_miss=np.array([0.6, 0.01]),
                  mprecision=np.ones(2), mrecall_excl=np.ones(2), mrecall_miss=np.ones(2),
                  ignored_share=np.array([0.05, 0.98]), iou_excl=np.ones((2, 2)),
                  iou_miss=np.ones((2, 2)), precision=np.ones((2, 2)),
                  recall_excl=np.ones((2, 2)), recall_miss=np.ones((2, 2)))
    best = eval_pseudo_labels.write_outputs(str(tmp_path), taus, scores, ['bg', 'a'], 'excl',
                                            {}, max_ignored=0.5)
    assert best['tau'] == 0.1
    with pytest.raises(SystemExit, match='every τ leaves more than'):
        eval_pseudo_labels.write_outputs(str(tmp_path), taus, scores, ['bg', 'a'], 'excl', {},
                                         max_ignored=0.01)


@pytest.mark.parametrize('flags, msg', [
    (['--mode', 'no_saliency', '--sal-dir', 'x'], '--sal-dir apply to --mode saliency'),
    (['--mode', 'no_saliency', '--sal-threshold', '0.3'], '--sal-threshold apply to'),
    (['--mode', 'no_saliency', '--no-ignore-unassigned'], '--no-ignore-unassigned apply'),
    (['--sal-dir', 'x', '--sal-threshold', 'nan'], r'--sal-threshold: want a number in \[0, 1\]'),
    (['--sal-dir', 'x', '--sal-threshold', '1.5'], r'--sal-threshold: want a number in \[0, 1\]'),
    (['--mode', 'no_saliency', '--tau-range', '0.9', '0.1', '0.1'], 'START <= STOP'),
    (['--mode', 'no_saliency', '--tau-range', '0.1', '0.9', '0'], 'STEP > 0'),
    (['--mode', 'no_saliency', '--nproc', '0'], '--nproc: want an integer >= 1'),
    (['--mode', 'no_saliency', '--cam-format', 'npz'], 'records bed_png'),
])
def test_contradicting_arguments_are_refused(flags, msg, tmp_path, capsys):
    """Fails before the fix: each of these was accepted and silently unread or wrong (a
    saliency folder unused, an empty τ list, a store read in another format than made)."""
    import json
    cam_dir = tmp_path / 'cams'
    cam_dir.mkdir()
    (cam_dir / 'meta.json').write_text(json.dumps(dict(settings=dict(cam_format='bed_png'))))
    with pytest.raises(SystemExit):
        eval_pseudo_labels.parse_args([CFG, '--cam-dir', str(cam_dir), '--out-dir',
                                       str(tmp_path / 'o')] + flags)
    assert re.search(msg, capsys.readouterr().err)


@pytest.mark.parametrize('wrapper', ['RepeatDataset', 'ConcatDataset'])
def test_a_wrapped_split_is_scored_once_per_image(wrapper, tmp_path, voc_root):
    """Fails before the fix: a RepeatDataset (or ConcatDataset) split was built with
    pseudo_labels=False and failed (RepeatDataset takes no such argument)."""
    wrapped = (dict(type='RepeatDataset', times=3, dataset='_split') if wrapper == 'RepeatDataset'
               else dict(type='ConcatDataset', datasets=['_split', '_split']))
    cfg = tmp_path / 'wrapped.py'
    cfg.write_text(f"_base_ = [{CFG!r}]\n"
                   f"cam_dataloader = dict(dataset=dict(_delete_=True, **{wrapped!r}))\n"
                   .replace("'_split'", "_base_.cam_dataloader.dataset"))
    common = ['--cam-dir', osp.join(voc_root, 'activation_maps', 'VOC2012_TEST'),
              '--cam-format', 'bed_png', '--mode', 'no_saliency', '--taus', '0.2', '0.5']
    plain = eval_pseudo_labels.main([CFG, '--out-dir', str(tmp_path / 'p')] + common)
    summary = eval_pseudo_labels.main([str(cfg), '--out-dir', str(tmp_path / 'w')] + common)
    assert summary['num_images'] == plain['num_images'] == 4
    assert summary['miou'] == plain['miou'] and summary['tau'] == plain['tau']


def test_outputs_among_the_inputs_a_launcher_and_a_held_folder_are_refused(
        tmp_path, voc_copy, monkeypatch):
    """Fails before the fix: the sweep wrote its files into the CAM store given as
    --out-dir, every torchrun rank ran the whole sweep, and two sweeps into one
    folder left one's tau_sweep.csv beside the other's best.json (no lock)."""
    from mmwsss.outputs import OutputLock
    cam_dir = osp.join(voc_copy, 'activation_maps', 'VOC2012_TEST')
    common = [CFG, '--cam-dir', cam_dir, '--cam-format', 'bed_png', '--mode', 'no_saliency',
              '--taus', '0.2']
    with pytest.raises(SystemExit, match='is the CAM store'):
        eval_pseudo_labels.main(common + ['--out-dir', cam_dir])
    with pytest.raises(SystemExit, match='lies inside the CAM store'):
        eval_pseudo_labels.main(common + ['--out-dir', osp.join(cam_dir, 'sweep')])
    assert not osp.exists(osp.join(cam_dir, 'best.json'))
    out = str(tmp_path / 'sweep')
    with OutputLock(out), pytest.raises(SystemExit, match='in use by'):
        eval_pseudo_labels.main(common + ['--out-dir', out])
    assert not osp.exists(osp.join(out, 'best.json'))
    monkeypatch.setenv('WORLD_SIZE', '2')
    with pytest.raises(SystemExit, match='runs in one process'):
        eval_pseudo_labels.main(common + ['--out-dir', out])


@pytest.mark.parametrize('content', ['[1]', '{"settings": "npz"}', '{"settings": {"cam_for',
                                     '{"settings": {"cam_format": "png"}}'])
def test_a_damaged_store_meta_json_is_named(content, tmp_path):
    """Fails before the fix: AttributeError ('list'/'str' object has no attribute
    'get'), a bare JSONDecodeError, or an unknown format reaching the store."""
    (tmp_path / 'meta.json').write_text(content)
    with pytest.raises(WSSSInputError, match='meta.json'):
        eval_pseudo_labels.parse_args([CFG, '--cam-dir', str(tmp_path), '--out-dir', 'x',
                                       '--mode', 'no_saliency'])


def test_an_exif_tagged_image_is_refused_by_the_crf_sweep_and_the_figures(tmp_path,
                                                                          voc_copy):
    """Fails before the fix: the CRF sweep decoded the tagged image upright (mmcv, as
    training does) against CAMs and GT in the stored frame (here a size error that did
    not name the cause; a square image, a silently rotated result), and the figures drew
    it without a word."""
    pytest.importorskip('pydensecrf.densecrf')
    from PIL import Image

    from mmwsss.visualization.figures import PseudoLabelSource, grid_row_from_store
    path = osp.join(voc_copy, 'JPEGImages', '2007_000032.jpg')
    img = Image.open(path)
    exif = img.getexif()
    exif[0x0112] = 6
    img.save(path, exif=exif.tobytes())
    cam_dir = osp.join(voc_copy, 'activation_maps', 'VOC2012_TEST')
    with pytest.raises(WSSSInputError, match=r'2007_000032\.jpg.*EXIF orientation'):
        eval_pseudo_labels.main([CFG, '--cam-dir', cam_dir, '--cam-format', 'bed_png',
                                 '--mode', 'no_saliency', '--crf', '--taus', '0.3',
                                 '--out-dir', str(tmp_path / 'e'), '--cfg-options',
                                 f'cam_dataloader.dataset.data_root={voc_copy}'])
    with pytest.raises(WSSSInputError, match=r'2007_000032\.jpg.*EXIF orientation'):
        grid_row_from_store(path, PseudoLabelSource(CAMStore(cam_dir, 'bed_png'),
                                                    PseudoLabelRule(tau=0.3, mode='no_saliency')),
                            [0, 14])


# --- held-out τ: chosen on a tuning part, scored on the others --------------------------
def _image_confusion(root, img_id, mode='saliency'):
    """T×N×(N+1) confusion of one fixture image over TAUS, made directly."""
    gt = np.asarray(Image.open(osp.join(root, 'SegmentationClassAug', img_id + '.png')))
    cams, keys = CAMStore(osp.join(root, 'activation_maps', 'VOC2012_TEST')).load(
        img_id, LABELS[img_id], gt.shape)
    sal = read_saliency(osp.join(root, 'saliency_maps', 'VOC2012_TEST', img_id + '.png'))
    return label_confusion(gt, [PseudoLabelRule(t, mode)(cams, keys, sal) for t in TAUS], 21)


def _sweep_args(root, out):
    return [CFG, '--cam-dir', osp.join(root, 'activation_maps', 'VOC2012_TEST'),
            '--cam-format', 'bed_png', '--sal-dir', osp.join(root, 'saliency_maps',
                                                             'VOC2012_TEST'),
            '--out-dir', out, '--select', 'miss', '--taus'] + [str(t) for t in TAUS]


def test_held_out_tau_is_chosen_on_the_tuning_ids_and_scored_on_the_others(tmp_path, voc_root,
                                                                          capsys):
    """Fails before the fix (issue 29): τ could only be chosen and scored on the same
    images. Here it is chosen on two images, scored on the two others with a bootstrap
    interval over them, and the oracle on all four sits beside it, marked."""
    from mmwsss.evaluation import ids_digest
    tune, report = ['2007_000039', '2008_000002'], ['2007_000032', '2009_000010']
    ids_file = tmp_path / 'tune.txt'
    ids_file.write_text('\n'.join(tune) + '\n')
    out = str(tmp_path / 'held')
    summary = eval_pseudo_labels.main(_sweep_args(voc_root, out) + ['--tune-ids', str(ids_file)])
    best = json.load(open(osp.join(out, 'best.json')))
    assert best['tau'] == summary['tau'] and best['tau_selection'] == 'held_out'
    cm = {i: _image_confusion(voc_root, i) for i in IDS}
    tune_miou = scores_from_confusion(sum(cm[i] for i in tune))['miou_miss']
    t = int(np.argmax(tune_miou))
    assert best['tau'] == TAUS[t]
    miou = scores_from_confusion(sum(cm[i] for i in report))['miou_miss']
    assert best['miou'] == pytest.approx(miou[t]) == best['held_out']['report']['miou']
    h = best['held_out']
    assert (h['tune']['num_images'], h['report']['num_images']) == (2, 2)
    assert h['tune']['ids_sha256'] == ids_digest(tune)
    assert h['report']['ids_sha256'] == ids_digest(report)
    # two report images a, b: a resample is aa, ab or bb (1/4, 1/2, 1/4), so a 95 %
    # percentile interval of 1000 resamples spans the smallest and largest of the three
    a, b = (cm[i][t:t + 1] for i in report)
    three = [scores_from_confusion(x)['miou_miss'][0] for x in (2 * a, a + b, 2 * b)]
    assert h['report']['ci95'] == pytest.approx([min(three), max(three)])
    assert h['report']['bootstrap']['resamples'] == 1000
    # the oracle: what the sweep without a tuning part chooses and scores on all four
    everyone = eval_pseudo_labels.main(_sweep_args(voc_root, str(tmp_path / 'all')))
    o = best['oracle']
    assert (o['tau'], o['miou']) == (everyone['tau'], pytest.approx(everyone['miou']))
    assert o['num_images'] == 4 and 'ORACLE' in o['note'] and 'optimistic' in o['note']
    assert everyone['tau_selection'] == 'same_images' and 'optimistic' in everyone['tau_note']
    printed = capsys.readouterr().out
    assert 'held-out τ' in printed and 'optimistic' in printed
    # the curves stay those of every labelled image
    rows = list(csv.DictReader(open(osp.join(out, 'tau_sweep.csv'))))
    all_miou = scores_from_confusion(sum(cm.values()))['miou_miss']
    assert [float(r['miou_miss']) for r in rows] == pytest.approx(list(all_miou), abs=1e-6)


def test_held_out_tau_from_a_seeded_fraction_and_applied_by_pseudo_labels(tmp_path, voc_root,
                                                                        monkeypatch):
    """``--tune-fraction`` draws disjoint parts with ``--seed``; ``tools/train.py
    --pseudo-labels`` (``load_config``) trains at the held-out τ, not the oracle's."""
    from mmwsss.evaluation import ids_digest
    from mmwsss.fileio import draw_subset
    from mmwsss.utils import load_config
    out = str(tmp_path / 'held')
    summary = eval_pseudo_labels.main(_sweep_args(voc_root, out) +
                                      ['--tune-fraction', '0.5', '--seed', '0'])
    tune = draw_subset(IDS, fraction=0.5, seed=0)
    report = [i for i in IDS if i not in tune]
    h = summary['held_out']
    assert h['tune']['ids_sha256'] == ids_digest(tune)
    assert h['report']['ids_sha256'] == ids_digest(report) != ids_digest(tune)
    assert (h['tune']['tune_fraction'], h['tune']['seed']) == (0.5, 0)
    lo, hi = h['report']['ci95']
    assert 0 <= lo <= hi <= 1
    again = eval_pseudo_labels.main(_sweep_args(voc_root, str(tmp_path / 'again')) +
                                    ['--tune-fraction', '0.5', '--seed', '0'])
    assert again['held_out'] == h  # seeded: the same parts and interval
    # on this draw the held-out τ is not the oracle's: training must take the former
    assert summary['tau'] != summary['oracle']['tau']
    seg_cfg = osp.join(osp.dirname(__file__), 'configs', 'seg_tiny_deeplabv2_voc.py')
    monkeypatch.syspath_prepend(osp.dirname(seg_cfg))
    cfg = load_config(seg_cfg, pseudo_labels=out)
    assert cfg.train_dataloader.dataset.pseudo_label_cfg.tau == summary['tau']


@pytest.mark.parametrize('flags, msg', [
    (['--tune-fraction', '1.0'], r'--tune-fraction: want a number in \(0, 1\)'),
    (['--tune-fraction', '0.5', '--tune-ids', 'x'], 'not allowed with'),
])
def test_tuning_arguments_are_checked(flags, msg, tmp_path, capsys):
    with pytest.raises(SystemExit):
        eval_pseudo_labels.parse_args([CFG, '--cam-dir', str(tmp_path), '--mode',
                                       'no_saliency', '--out-dir', str(tmp_path / 'o')] + flags)
    assert re.search(msg, capsys.readouterr().err)


def test_tuning_ids_outside_the_split_are_refused(tmp_path, voc_root):
    ids_file = tmp_path / 'tune.txt'
    ids_file.write_text('2007_000039\n2099_999999\n')
    with pytest.raises(SystemExit, match='not among the 4 labelled images'):
        eval_pseudo_labels.main(_sweep_args(voc_root, str(tmp_path / 'o')) +
                                ['--tune-ids', str(ids_file)])
    ids_file.write_text('\n'.join(IDS) + '\n')
    with pytest.raises(SystemExit, match='both parts need at least one'):
        eval_pseudo_labels.main(_sweep_args(voc_root, str(tmp_path / 'o')) +
                                ['--tune-ids', str(ids_file)])
