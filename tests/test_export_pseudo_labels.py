import json
import os
import os.path as osp

import numpy as np
import pytest
from PIL import Image

from mmwsss.utils import find_pseudo_label_step
from tests.utils import load_tool

export_pseudo_labels = load_tool('export_pseudo_labels')

CFG = osp.join(osp.dirname(__file__), 'configs', 'tiny_fcn_voc_pseudo.py')


def test_export_matches_transform_resumes_and_refuses_other_settings(tmp_path, voc_root):
    from mmwsss.fileio import CAMStore, read_saliency
    from mmwsss.functional import PseudoLabelRule
    out = str(tmp_path / 'labels')
    export_pseudo_labels.main([CFG, '--out-dir', out])
    ids = open(osp.join(voc_root, 'ImageSets/Segmentation/train_aug.txt')).read().split()
    cls = {ln.split()[0]: [int(c) for c in ln.split()[1:]]
           for ln in open(osp.join(voc_root, 'cls_labels/train_aug.txt'))}
    for img_id in ids:
        img = Image.open(osp.join(out, img_id + '.png'))
        assert img.mode == 'P'  # palette PNG, as VOC label maps
        lab = np.asarray(img)
        cams, keys = CAMStore(osp.join(voc_root, 'activation_maps/VOC2012_TEST')).load(
            img_id, cls[img_id], lab.shape)
        sal = read_saliency(osp.join(voc_root, 'saliency_maps/VOC2012_TEST', img_id + '.png'))
        ref = PseudoLabelRule(tau=0.1)(cams, keys, sal)
        np.testing.assert_array_equal(lab, ref)
    assert json.load(open(osp.join(out, 'meta.json')))['settings']['pseudo_label']['tau'] == 0.1

    # resume: only the missing label is written
    first = osp.join(out, ids[0] + '.png')
    keep = osp.join(out, ids[1] + '.png')
    mtime = osp.getmtime(keep)
    os.remove(first)
    export_pseudo_labels.main([CFG, '--out-dir', out])
    assert osp.isfile(first) and osp.getmtime(keep) == mtime

    # other settings into the same folder: refused without --force
    opt = ['--cfg-options', 'train_dataloader.dataset.pipeline.1.tau=0.5']
    with pytest.raises(SystemExit, match='other settings'):
        export_pseudo_labels.main([CFG, '--out-dir', out] + opt)
    export_pseudo_labels.main([CFG, '--out-dir', out, '--force'] + opt)
    assert json.load(open(osp.join(out, 'meta.json')))['settings']['pseudo_label']['tau'] == 0.5


def test_finds_the_step_in_the_dataset_or_the_pipeline():
    step = dict(type='SaliencyPseudoLabel', tau=0.2)
    wrapped = dict(type='RepeatDataset', times=2, dataset=dict(
        type='VOCWSSSDataset', pseudo_label_cfg=dict(tau=0.3, mode='no_saliency'),
        pipeline=[dict(type='LoadImageFromFile'), dict(type='PackSegInputs')]))
    ds, found = find_pseudo_label_step(wrapped)
    assert ds['type'] == 'VOCWSSSDataset' and found == dict(tau=0.3, mode='no_saliency')
    ds, found = find_pseudo_label_step(
        dict(type='PascalVOCDataset', pipeline=[dict(type='LoadImageFromFile'), step]))
    assert found == step
    with pytest.raises(ValueError, match='no SaliencyPseudoLabel'):
        find_pseudo_label_step(dict(type='X', pipeline=[]))


def test_export_crf_labels_as_psa_and_irn(tmp_path, voc_root):
    """--crf: the CAM-only label of the config's τ refined by DenseCRF (psa preset)."""
    pytest.importorskip('pydensecrf.densecrf')
    import mmcv

    from mmwsss.fileio import CAMStore, cams_to_unit
    from mmwsss.functional.dense_crf import crf_label
    out = str(tmp_path / 'crf')
    opt = ['--cfg-options', 'train_dataloader.dataset.pipeline.1.mode=no_saliency']
    export_pseudo_labels.main([CFG, '--out-dir', out, '--crf'] + opt)
    assert json.load(open(osp.join(out, 'meta.json')))['settings']['pseudo_label']['crf'] == 'psa'
    img_id = '2008_000002'
    lab = np.asarray(Image.open(osp.join(out, img_id + '.png')))
    cams, keys = CAMStore(osp.join(voc_root, 'activation_maps/VOC2012_TEST')).load(
        img_id, [11, 14], lab.shape)
    rgb = mmcv.imread(osp.join(voc_root, 'JPEGImages', img_id + '.jpg'), channel_order='rgb')
    np.testing.assert_array_equal(lab, crf_label(rgb, cams_to_unit(cams), keys, 0.1, 'psa'))
    with pytest.raises(ValueError, match="crf refines CAM-only labels"):
        export_pseudo_labels.main([CFG, '--out-dir', str(tmp_path / 'x'), '--crf'])


def test_a_folder_in_use_by_another_run_is_refused(tmp_path):
    """Fails before the fix: two exports into one folder both exited 0 and left a
    mixture of τ settings under one meta.json."""
    import socket
    out = tmp_path / 'labels'
    out.mkdir()
    lock = out / '.lock'
    lock.write_text(f'{os.getppid()} {socket.gethostname()}')  # a live process holds it
    with pytest.raises(SystemExit, match=r'in use by process \d+'):
        export_pseudo_labels.main([CFG, '--out-dir', str(out)])
    assert not (out / 'meta.json').exists()
    lock.write_text(f'999999999 {socket.gethostname()}')  # its process is gone: taken over
    export_pseudo_labels.main([CFG, '--out-dir', str(out)])
    assert (out / 'meta.json').exists() and not lock.exists()


def test_semi_supervised_export_holds_pseudo_labels_only_and_keeps_nothing_stale(
        tmp_path, voc_root, capsys):
    """Fails before the fix (issue 21, BAD 5): exporting a semi-supervised config
    wrote the GT masks of its gt_subset into the pseudo-label folder, and a later
    plain export kept them ("4 kept"). Now every image gets its pseudo label (the
    same as a plain export), meta.json lists the subset, and a rerun for other
    images is refused, or with --force drops the labels of images no longer listed."""
    from mmwsss.fileio import CAMStore, read_saliency
    from mmwsss.functional import PseudoLabelRule
    semi = ['--cfg-options', 'train_dataloader.dataset.gt_subset='
            'ImageSets/Segmentation/train.txt']
    out = str(tmp_path / 'labels')
    export_pseudo_labels.main([CFG, '--out-dir', out] + semi)
    cls = {ln.split()[0]: [int(c) for c in ln.split()[1:]]
           for ln in open(osp.join(voc_root, 'cls_labels/train_aug.txt'))}
    for img_id in ('2007_000032', '2008_000002'):  # the gt_subset
        lab = np.asarray(Image.open(osp.join(out, img_id + '.png')))
        cams, keys = CAMStore(osp.join(voc_root, 'activation_maps/VOC2012_TEST')).load(
            img_id, cls[img_id], lab.shape)
        sal = read_saliency(osp.join(voc_root, 'saliency_maps/VOC2012_TEST', img_id + '.png'))
        np.testing.assert_array_equal(lab, PseudoLabelRule(tau=0.1)(cams, keys, sal))
    meta = json.load(open(osp.join(out, 'meta.json')))
    assert meta['gt_subset'] == ['2007_000032', '2008_000002']
    assert 'gt_subset' in capsys.readouterr().out
    export_pseudo_labels.main([CFG, '--out-dir', out])  # the same labels: resumed
    assert '0 labels written, 4 kept' in capsys.readouterr().out

    # a folder written for other images is not resumed; --force leaves no stale label
    other = ['--cfg-options', 'train_dataloader.dataset.ann_file='
             'ImageSets/Segmentation/train.txt']
    with pytest.raises(SystemExit, match='other settings'):
        export_pseudo_labels.main([CFG, '--out-dir', out] + other)
    export_pseudo_labels.main([CFG, '--out-dir', out, '--force'] + other)
    assert sorted(f for f in os.listdir(out) if f.endswith('.png')) == \
        ['2007_000032.png', '2008_000002.png']
    assert '2 label(s) of images not listed now removed' in capsys.readouterr().out
