"""Issue 30, item 1: every CAM store format and every dataset type through every
check and tool. check_data (and train.py's start-up check) names any map that
training will read and that is missing, whatever the format, the dataset type
and wherever the ids come from; a packed store chosen the documented way
(``pseudo_label_cfg.cam_format=packed``) passes, through ``--pseudo-labels``
too; pack_maps and eval_pseudo_labels read a store's ``meta.json``."""
import json
import os
import os.path as osp
import shutil

import numpy as np
import pytest
from mmengine.config import Config
from PIL import Image

from mmwsss.config import load_config
from mmwsss.errors import WSSSInputError
from mmwsss.fileio import save_cams_bed_png, save_cams_npz, save_label_png
from mmwsss.fileio.packed_maps import save_packed
from mmwsss.preflight.data import check_data_report
from tests.utils import load_tool

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
COCO = osp.join(ROOT, 'tests', 'data', 'coco')
LEAF = osp.join(ROOT, 'configs', 'wsss', 'deeplabv2_r101-d8_2xb10-10k_voc12aug-321x321_cam-vst.py')
FORMATS = ('bed_png', 'npz', 'npy_dict', 'packed')
SUFFIX = dict(npz='.npz', npy_dict='.npy', packed='.maps')
# the training ids of the COCO fixture's instances json: image 30 has no object
COCO_IDS = ['COCO_train2014_000000000009', 'COCO_train2014_000000000025',
            'COCO_train2014_000000000034']


def _write_stores(root, labels, hw):
    """The same CAMs in every format under ``root/<format>``, and saliency maps
    (``root/sal``, and inside the packs)."""
    rng = np.random.default_rng(0)
    for d in FORMATS + ('sal', ):
        os.makedirs(osp.join(root, d), exist_ok=True)
    for img_id, classes in labels.items():
        cams = rng.random((len(classes), ) + hw).astype(np.float32)
        u8 = np.round(cams * 255).astype(np.uint8)
        sal = rng.integers(0, 256, hw, dtype=np.uint8)
        save_label_png(osp.join(root, 'sal', img_id + '.png'), sal)
        save_cams_bed_png(osp.join(root, 'bed_png'), img_id, classes, cams)
        save_cams_npz(osp.join(root, 'npz', img_id + '.npz'), classes, cams)
        np.save(osp.join(root, 'npy_dict', img_id + '.npy'),
                {c: cam for c, cam in zip(classes, cams)}, allow_pickle=True)
        save_packed(osp.join(root, 'packed', img_id + '.maps'), classes, u8, sal)


@pytest.fixture(scope='module')
def base(tmp_path_factory):
    """A VOC-like set of 4 images (list, labels) and the COCO fixture's train
    split (a copy: the dataset caches its json beside it), each with its maps in
    every format."""
    root = str(tmp_path_factory.mktemp('stores'))
    voc = osp.join(root, 'voc')
    labels = {f'img_{i}': cls for i, cls in enumerate([[0, 14], [6], [2, 11], [19]])}
    os.makedirs(osp.join(voc, 'JPEGImages'))
    os.makedirs(osp.join(voc, 'lists'))
    for img_id in labels:
        Image.new('RGB', (10, 8)).save(osp.join(voc, 'JPEGImages', img_id + '.jpg'))
    with open(osp.join(voc, 'lists', 'train.txt'), 'w') as f:
        f.write('\n'.join(labels) + '\n')
    with open(osp.join(voc, 'lists', 'cls.txt'), 'w') as f:
        f.write(''.join(f'{i} {" ".join(map(str, c))}\n' for i, c in labels.items()))
    _write_stores(osp.join(voc, 'maps'), labels, (8, 10))
    coco = osp.join(root, 'coco')
    shutil.copytree(osp.join(COCO, 'train2014'), osp.join(coco, 'train2014'))
    os.makedirs(osp.join(coco, 'annotations'))
    shutil.copy(osp.join(COCO, 'annotations', 'instances_train2014.json'),
                osp.join(coco, 'annotations'))
    from mmseg.registry import DATASETS
    ds = DATASETS.build(dict(type='COCOWSSSDataset', data_root=coco, pseudo_labels=True,
                             ann_file='annotations/instances_train2014.json', pipeline=[],
                             data_prefix=dict(img_path='train2014')))
    coco_labels = {d['img_id']: d['cls_labels'].tolist()
                   for d in map(ds.get_data_info, range(len(ds)))}
    assert list(coco_labels) == COCO_IDS
    _write_stores(osp.join(coco, 'maps'), coco_labels, (48, 64))
    return root


def _dataset(kind, root, fmt):
    """A training set of dataset type ``kind`` over ``root`` reading its maps in
    ``fmt``, as a config gives it: (dataset config, root of the set)."""
    maps = osp.join(root, 'maps')
    step = dict(cam_format=fmt, tau=0.1)
    if fmt == 'npy_dict':
        step['allow_pickle'] = True
    # a packed store holds the saliency maps: the dataset's folder is not read
    sal = '/nowhere/sal' if fmt == 'packed' else 'sal'
    wsss = dict(data_root=root, maps_root=maps, pseudo_labels=True,
                data_prefix=dict(img_path='JPEGImages', cam_path=fmt, sal_path=sal),
                pseudo_label_cfg=step, pipeline=[dict(type='LoadImageFromFile')])
    # mmseg's datasets (and the FCN example) put the step in the pipeline
    in_pipeline = [dict(type='LoadImageFromFile'),
                   dict(type='SaliencyPseudoLabel', cam_dir=osp.join(maps, fmt),
                        **({} if fmt == 'packed' else {'sal_dir': osp.join(maps, 'sal')}),
                        **step), dict(type='PackSegInputs')]
    if kind == 'VOCWSSSDataset':  # ids from a list, labels from a WSSS-BED list
        return dict(wsss, type=kind, ann_file='lists/train.txt', cls_label_file='lists/cls.txt')
    if kind == 'VOCWSSSDataset+step':  # the FCN example: ids from the label list
        return dict(type='VOCWSSSDataset', data_root=root, ann_file='',
                    cls_label_file='lists/cls.txt', pseudo_labels=True,
                    data_prefix=dict(img_path='JPEGImages'), pipeline=in_pipeline)
    if kind == 'COCOWSSSDataset':  # ids and labels from the instances json
        return dict(wsss, type=kind, ann_file='annotations/instances_train2014.json',
                    data_prefix=dict(wsss['data_prefix'], img_path='train2014'))
    if kind == 'PascalVOCDataset':  # mmseg's: ids from a list, no image-level labels
        return dict(type=kind, data_root=root, ann_file='lists/train.txt',
                    data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'),
                    pipeline=in_pipeline)
    # mmseg's ADE20K: the ids of the image folder, no labels
    return dict(type=kind, data_root=root, data_prefix=dict(img_path='JPEGImages'),
                pipeline=in_pipeline)


KINDS = ('VOCWSSSDataset', 'VOCWSSSDataset+step', 'COCOWSSSDataset', 'PascalVOCDataset',
         'ADE20KDataset')


@pytest.mark.parametrize('fmt', FORMATS)
@pytest.mark.parametrize('kind', KINDS)
def test_check_data_names_a_missing_map_of_every_store_and_dataset_type(base, tmp_path,
                                                                        kind, fmt):
    """Fails before the fix: a packed store was 'no map file' with its maps
    there; the maps of mmseg's datasets, of a pipeline's SaliencyPseudoLabel and
    of COCO's json ids were never checked one by one (a missing one stopped
    training at its first read)."""
    src = 'coco' if kind == 'COCOWSSSDataset' else 'voc'
    root = str(tmp_path / src)
    shutil.copytree(osp.join(base, src), root, ignore=shutil.ignore_patterns('.mmwsss_cache'))
    cfg = Config(dict(train_dataloader=dict(dataset=_dataset(kind, root, fmt))))
    ids = COCO_IDS if src == 'coco' else ['img_0', 'img_1', 'img_2', 'img_3']
    report = check_data_report(cfg, ('train_dataloader', ))
    assert report.problems == []
    assert report.counts["images' CAMs"] == len(ids)
    assert report.counts['saliency maps'] == (0 if fmt == 'packed' else len(ids))

    maps = osp.join(root, 'maps')
    # a file that is not the first: one class's CAM where the labels say which
    labelled = kind in ('VOCWSSSDataset', 'VOCWSSSDataset+step', 'COCOWSSSDataset')
    img_id = ids[2]
    if fmt != 'bed_png':
        gone = [img_id + SUFFIX[fmt]]
    else:
        pngs = sorted(f for f in os.listdir(osp.join(maps, fmt)) if f.startswith(img_id + '_'))
        # without labels, any CAM of the image will do: remove them all
        gone = pngs[-1:] if labelled else pngs
    for name in gone:
        os.remove(osp.join(maps, fmt, name))
    if fmt != 'packed':
        os.remove(osp.join(maps, 'sal', ids[1] + '.png'))
    lines = check_data_report(cfg, ('train_dataloader', )).problems
    assert len(lines) == (1 if fmt == 'packed' else 2), lines
    shown = gone[0] if labelled or fmt != 'bed_png' else f'{img_id}_<class>.png'
    cam = lines[0]
    assert f'1 CAM file(s) ({fmt})' in cam and shown in cam and osp.join(maps, fmt) in cam, cam
    assert f'of the {len(ids)} images' in cam
    if fmt != 'packed':
        assert f'saliency map file(s)' in lines[1] and ids[1] + '.png' in lines[1], lines


@pytest.mark.parametrize('kind', KINDS)
def test_a_cam_of_a_class_beyond_the_datasets_is_named_at_start(base, tmp_path, kind):
    """Fails before the fix: on mmseg's own datasets (no image-level labels, no number of
    classes in the data info) a stray ``<id>_25.png`` became label 26 in silence, beyond
    VOC's 21 labels (ADE20K: ``_149.png``, label 150 of 150). A dataset with labels reads
    only the labelled classes' files: the stray one is no problem there."""
    src = 'coco' if kind == 'COCOWSSSDataset' else 'voc'
    root = str(tmp_path / src)
    shutil.copytree(osp.join(base, src), root, ignore=shutil.ignore_patterns('.mmwsss_cache'))
    cfg = Config(dict(train_dataloader=dict(dataset=_dataset(kind, root, 'bed_png'))))
    assert check_data_report(cfg, ('train_dataloader', )).problems == []
    img_id = COCO_IDS[1] if src == 'coco' else 'img_2'
    folder = osp.join(root, 'maps', 'bed_png')
    first = sorted(f for f in os.listdir(folder) if f.startswith(img_id + '_'))[0]
    last = 149 if kind == 'ADE20KDataset' else 80 if src == 'coco' else 20
    for c in (last - 1, last):  # the last class is fine, the one after it is not
        if not osp.exists(osp.join(folder, f'{img_id}_{c}.png')):
            shutil.copy(osp.join(folder, first), osp.join(folder, f'{img_id}_{c}.png'))
    lines = check_data_report(cfg, ('train_dataloader', )).problems
    if kind in ('PascalVOCDataset', 'ADE20KDataset'):
        assert len(lines) == 1, lines
        assert f'1 CAM file(s) in {folder}' in lines[0] and f'{img_id}_{last}.png' in lines[0]
        assert f'of a class above {last - 1}' in lines[0]
        assert f'{img_id}_{last - 1}.png' not in lines[0]
    else:
        assert lines == []


def test_the_id_list_of_mmsegs_own_dataset_is_read_by_our_rule_at_start(base, tmp_path):
    """Fails before the fix: mmseg reads a stock dataset's ann_file itself (each line,
    stripped, is a file stem), so 'img_1' beside 'IMG_1' (one file on a case-insensitive
    disk) trained on one image twice; the start-up check now reads the list by the rule of
    our id lists and names both lines."""
    root = str(tmp_path / 'voc')
    shutil.copytree(osp.join(base, 'voc'), root, ignore=shutil.ignore_patterns('.mmwsss_cache'))
    cfg = Config(dict(train_dataloader=dict(dataset=_dataset('PascalVOCDataset', root,
                                                             'bed_png'))))
    assert check_data_report(cfg, ('train_dataloader', )).problems == []
    with open(osp.join(root, 'lists', 'train.txt'), 'a') as f:
        f.write('IMG_1\n')
    lines = check_data_report(cfg, ('train_dataloader', )).problems
    assert any(ln.startswith('train_dataloader.dataset.ann_file: ') and
               "lines 2 and 5 name one image under two spellings, 'img_1' and 'IMG_1'" in ln
               for ln in lines), lines


@pytest.fixture
def packed_voc(tmp_path):
    """The VOC fixture's maps packed (CAMs + saliency), and its layout options."""
    voc = osp.join(ROOT, 'tests', 'data', 'voc')
    out = str(tmp_path / 'packed')
    load_tool('pack_maps').main([
        '--cam-dir', osp.join(voc, 'activation_maps', 'VOC2012_TEST'),
        '--sal-dir', osp.join(voc, 'saliency_maps', 'VOC2012_TEST'),
        '--cls-label-file', osp.join(voc, 'cls_labels', 'train_aug.txt'), '--out-dir', out])
    opts = {'train_dataloader.dataset.data_root': voc,
            'train_dataloader.dataset.maps_root': voc,
            'val_dataloader.dataset.data_root': voc, 'test_dataloader.dataset.data_root': voc}
    return out, opts


def test_a_pack_chosen_the_documented_way_passes_the_start_up_check(packed_voc):
    """Fails before the fix: 'no map file in .../packed' from check_data and
    from train.py's start-up check, with every .maps file there."""
    out, opts = packed_voc
    opts = dict(opts, **{'train_dataloader.dataset.data_prefix.cam_path': out,
                         'train_dataloader.dataset.pseudo_label_cfg.cam_format': 'packed'})
    cfg = load_config(LEAF, opts)
    report = check_data_report(cfg, ('train_dataloader', ))
    assert report.problems == [] and report.counts["images' CAMs"] == 4
    train = load_tool('train')
    assert train.preflight(cfg, skip_data_check=True) == []
    os.remove(osp.join(out, '2008_000002.maps'))
    lines = check_data_report(load_config(LEAF, opts), ('train_dataloader', )).problems
    assert len(lines) == 1 and '2008_000002.maps' in lines[0], lines
    # a pack without saliency maps, read in saliency mode: named before training
    meta = osp.join(out, 'meta.json')
    record = json.load(open(meta))
    record['settings']['sal_dir'] = None
    json.dump(record, open(meta, 'w'))
    lines = check_data_report(load_config(LEAF, opts), ('train_dataloader', )).problems
    assert any('holds no saliency maps' in ln and '--sal-dir' in ln for ln in lines), lines


def test_a_sweep_on_a_pack_needs_no_sal_dir_and_trains_from_it(packed_voc, tmp_path, capsys):
    """Fails before the fix: eval_pseudo_labels --mode saliency on a pack asked
    for --sal-dir (and then scored that folder's maps, not the pack's), and
    train.py --pseudo-labels on its best.json failed the start-up check."""
    out, opts = packed_voc
    evaluate = load_tool('eval_pseudo_labels')
    cfg = osp.join(ROOT, 'tests', 'configs', 'eps_tiny_voc.py')
    sweep = str(tmp_path / 'sweep')
    best = evaluate.main([cfg, '--cam-dir', out, '--out-dir', sweep, '--taus', '0.1', '0.5'])
    voc = osp.join(ROOT, 'tests', 'data', 'voc')
    sal = osp.join(voc, 'saliency_maps', 'VOC2012_TEST')
    assert best['cam_format'] == 'packed' and best['sal_dir'] is None
    assert best['saliency_source'] == 'packed' and best['packed_from_sal_dir'] == sal
    # the same scores as the source store with its saliency folder
    plain = evaluate.main([cfg, '--cam-dir', osp.join(voc, 'activation_maps', 'VOC2012_TEST'),
                           '--cam-format', 'bed_png', '--sal-dir', sal, '--out-dir',
                           str(tmp_path / 'plain'), '--taus', '0.1', '0.5'])
    assert (best['tau'], best['miou']) == (plain['tau'], plain['miou'])
    assert plain['saliency_source'] == 'sal_dir'
    # browse_pseudo_labels' rows: the pack's saliency, the same labels
    from mmwsss.fileio import CAMStore
    from mmwsss.visualization import PseudoLabelSource, grid_row_from_store
    img = osp.join(voc, 'JPEGImages', '2007_000032.jpg')
    bed = CAMStore(osp.join(voc, 'activation_maps', 'VOC2012_TEST'))
    rows = [grid_row_from_store(img, PseudoLabelSource(CAMStore(out, 'packed')), [0, 14]),
            grid_row_from_store(img, PseudoLabelSource(bed, sal_dir=sal), [0, 14])]
    for key in ('saliency', 'pseudo'):
        np.testing.assert_array_equal(rows[0][key], rows[1][key])
    with pytest.raises(SystemExit):  # two sources for one map
        evaluate.parse_args([cfg, '--cam-dir', out, '--out-dir', sweep, '--sal-dir', sal])
    assert 'holds each image\'s saliency map' in capsys.readouterr().err
    cfg = load_config(LEAF, opts, pseudo_labels=sweep)
    ds = cfg.train_dataloader.dataset
    assert ds.pseudo_label_cfg.cam_format == 'packed' and ds.data_prefix.sal_path is None
    assert check_data_report(cfg, ('train_dataloader', )).problems == []


def test_pack_maps_reads_the_source_format_from_meta_json_or_names_the_option(tmp_path,
                                                                            capsys):
    """Fails before the fix: an npz store (as make_cams writes it, with its
    meta.json) was read as bed_png: 'no CAM file <id>_<class>.png'."""
    voc = osp.join(ROOT, 'tests', 'data', 'voc')
    pack = load_tool('pack_maps')
    src = str(tmp_path / 'npz')
    shutil.copytree(osp.join(voc, 'cams_npz'), src)
    lst = osp.join(voc, 'ImageSets', 'Segmentation', 'train_aug.txt')
    args = ['--ann-file', lst, '--quantize']  # the fixture's CAMs are float
    with pytest.raises(WSSSInputError, match=r'no bed_png CAM file.*holds \.npz files, give '
                       r'--cam-format npz'):
        pack.main(['--cam-dir', src, '--out-dir', str(tmp_path / 'a')] + args)
    with open(osp.join(src, 'meta.json'), 'w') as f:  # as tools/make_cams.py records it
        json.dump({'settings': {'cam_format': 'npz'}}, f)
    pack.main(['--cam-dir', src, '--out-dir', str(tmp_path / 'b')] + args)
    settings = json.load(open(tmp_path / 'b' / 'meta.json'))['settings']
    assert settings['source_cam_format'] == 'npz' and len(os.listdir(tmp_path / 'b')) == 5
    with pytest.raises(SystemExit):
        pack.parse_args(['--cam-dir', src, '--cam-format', 'bed_png', '--ann-file', lst,
                         '--out-dir', str(tmp_path / 'c')])
    assert 'meta.json records npz (leave --cam-format out' in capsys.readouterr().err
