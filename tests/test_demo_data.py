"""The embedded synthetic dataset (demo.synthetic) and the demo figures."""
import glob
import hashlib
import json
import os
import os.path as osp

import numpy as np
import pytest
from mmseg.registry import DATASETS
from PIL import Image

import mmwsss  # noqa: F401
from mmwsss.visualization import figures
from demo.synthetic import (CLASSES, NUM_CLASSES, SALIENCY_SOURCES, dataset_paths,
                            generate_dataset, main)
from mmwsss.fileio import CAMStore, parse_cls_label_file, read_gray_png, save_cams_npz
from mmwsss.functional import PseudoLabelRule, binarize_saliency, make_pseudo_label

SMOKE = dict(num_train=8, num_val=4, size=64, progress=False)


def _hashes(root):
    out = {}
    for p in sorted(glob.glob(osp.join(root, '**', '*'), recursive=True)):
        if osp.isfile(p) and not p.endswith('.json'):
            with open(p, 'rb') as f:
                out[osp.relpath(p, root)] = hashlib.sha256(f.read()).hexdigest()
    return out


def _label(root, img_id):
    return np.asarray(Image.open(osp.join(root, 'SegmentationClassAug', img_id + '.png')))


@pytest.fixture(scope='module')
def medium(tmp_path_factory):
    """A 96-image dataset (about a second to make)."""
    root = str(tmp_path_factory.mktemp('syn') / 'medium')
    meta = generate_dataset(root, num_train=72, num_val=24, size=64, seed=3, progress=False)
    return root, meta


def test_layout_lists_and_labels(tmp_path):
    root = str(tmp_path / 'syn')
    meta = generate_dataset(root, **SMOKE)
    p = dataset_paths(root)
    train = open(p['train_list']).read().split()
    val = open(p['val_list']).read().split()
    assert len(train) == 8 and len(val) == 4 and not set(train) & set(val)
    for ids, cls_file in ((train, p['train_cls_labels']), (val, p['val_cls_labels'])):
        labels = parse_cls_label_file(cls_file, NUM_CLASSES)
        assert list(labels) == ids
        for i in ids:
            img = Image.open(osp.join(p['img_dir'], i + '.jpg'))
            assert img.size == (64, 64) and img.mode == 'RGB'
            gt = Image.open(osp.join(p['ann_dir'], i + '.png'))
            assert gt.mode == 'P'  # a palette PNG: indices are the labels
            lab = np.asarray(gt)
            assert set(np.unique(lab)) <= set(range(NUM_CLASSES + 1))
            # image-level labels are exactly the classes of the GT map
            assert labels[i] == [int(v) - 1 for v in np.unique(lab) if v > 0]
            assert labels[i], f'{i} has no object'
            for key in SALIENCY_SOURCES:
                sal = read_gray_png(osp.join(p['sal_dirs'][key], i + '.png'))
                assert sal.shape == (64, 64)
    assert meta['metainfo']['classes'][0] == 'background'
    assert json.load(open(p['meta']))['params'] == meta['params']
    assert not osp.exists(osp.join(root, '.synthetic_params.json'))


def test_deterministic_and_seeded(tmp_path):
    a, b, c = (str(tmp_path / n) for n in 'abc')
    generate_dataset(a, **SMOKE)
    generate_dataset(b, **SMOKE)
    generate_dataset(c, seed=1, **SMOKE)
    ha, hb, hc = _hashes(a), _hashes(b), _hashes(c)
    assert len(ha) == 12 * (2 + len(SALIENCY_SOURCES)) + 4  # jpg, GT, saliency; lists
    assert ha == hb  # byte-identical: images, label maps, saliency, lists
    labels = [k for k in ha if k.startswith('SegmentationClassAug')]
    assert sum(ha[k] != hc[k] for k in labels) >= 10  # another seed, other data
    # an image depends only on (seed, split, index): a bigger set extends a smaller one
    d = str(tmp_path / 'd')
    generate_dataset(d, num_train=10, num_val=4, size=64, progress=False)
    hd = _hashes(d)
    assert all(hd[k] == v for k, v in ha.items() if 'ImageSets' not in k and
               'cls_labels' not in k)


def test_finished_detected_interrupted_completed(tmp_path):
    root = str(tmp_path / 'syn')
    meta = generate_dataset(root, **SMOKE)
    ref = _hashes(root)
    probe = osp.join(root, 'JPEGImages', 'train_00000.jpg')
    mtime = os.stat(probe).st_mtime_ns
    assert generate_dataset(root, **SMOKE) == meta  # found finished, not redone
    assert os.stat(probe).st_mtime_ns == mtime

    # Simulate a crash: no meta file, the in-progress marker, missing files and a
    # stray temporary file of an atomic write.
    os.unlink(osp.join(root, 'synthetic_meta.json'))
    with open(osp.join(root, '.synthetic_params.json'), 'w') as f:
        json.dump(meta['params'], f)
    gone = [osp.join(root, 'SegmentationClassAug', 'train_00003.png'),
            osp.join(root, 'wsss_bed', 'saliency_maps', 'SYN_ERRONEOUS', 'val_00001.png'),
            osp.join(root, 'ImageSets', 'Segmentation', 'val.txt')]
    for g in gone:
        os.unlink(g)
    stray = osp.join(root, 'JPEGImages', '.train_00005.jpg1234.tmp')
    open(stray, 'wb').write(b'partial')
    meta2 = generate_dataset(root, **SMOKE)
    assert _hashes(root) == ref and not osp.exists(stray)
    assert meta2['saliency_quality'] == meta['saliency_quality']
    assert os.stat(probe).st_mtime_ns == mtime  # existing files were kept

    # Other parameters: never overwritten without force.
    with pytest.raises(FileExistsError, match='force'):
        generate_dataset(root, num_train=8, num_val=4, size=48, progress=False)
    generate_dataset(root, num_train=6, num_val=3, size=48, progress=False, force=True)
    assert Image.open(probe).size == (48, 48)
    assert not osp.exists(osp.join(root, 'JPEGImages', 'train_00007.jpg'))
    # A folder with files the generator did not write is not overwritten either.
    foreign = str(tmp_path / 'foreign')
    os.makedirs(osp.join(foreign, 'JPEGImages'))
    open(osp.join(foreign, 'JPEGImages', 'mine.jpg'), 'wb').write(b'x')
    with pytest.raises(FileExistsError, match='did not'):
        generate_dataset(foreign, **SMOKE)
    with pytest.raises(ValueError, match='size'):
        generate_dataset(str(tmp_path / 'tiny'), num_train=2, num_val=1, size=16)


def test_data_needs_more_than_colour(medium):
    root, meta = medium
    ids = [i for s in meta['splits'].values() for i in s]
    counts = meta['class_counts']
    assert set(counts) == set(CLASSES[1:]) and min(counts.values()) >= 8
    ncls = [len(c) for s in meta['splits'].values() for c in s.values()]
    assert np.mean(ncls) > 1.3 and max(ncls) >= 3  # co-occurring classes
    # Nearest mean colour of an object's own pixels (GT mask given!) is far from
    # enough to name its class: the colour distributions overlap.
    feats, ys = [], []
    for i in ids:
        lab = _label(root, i)
        img = np.asarray(Image.open(osp.join(root, 'JPEGImages', i + '.jpg')), np.float64)
        for c in np.unique(lab[lab > 0]):
            feats.append(img[lab == c].mean(0))
            ys.append(int(c))
    feats, ys = np.array(feats), np.array(ys)
    cent = np.stack([feats[ys == c].mean(0) for c in range(1, NUM_CLASSES + 1)])
    pred = np.argmin(((feats[:, None] - cent[None])**2).sum(-1), 1) + 1
    acc = (pred == ys).mean()
    assert 1 / NUM_CLASSES < acc < 0.75, acc


def test_saliency_sources_quality_and_errors(medium):
    root, meta = medium
    q = meta['saliency_quality']
    assert q['SYN_CLEAN']['mean_iou'] > 0.95
    assert q['SYN_CLEAN']['mean_iou'] > q['SYN_COARSE']['mean_iou'] > \
        q['SYN_ERRONEOUS']['mean_iou']
    assert q['SYN_ERRONEOUS']['mean_iou'] < 0.8
    errs = meta['saliency_errors']
    assert set(errs['counts']) == {'missing_class', 'partial', 'non_object'}
    sal_dir = dataset_paths(root)['sal_dirs']['SYN_ERRONEOUS']
    seen = set()
    for img_id, kinds in errs['images'].items():
        lab = _label(root, img_id)
        sal = binarize_saliency(read_gray_png(osp.join(sal_dir, img_id + '.png')))
        for e in kinds:
            kind, _, name = e.partition(':')
            seen.add(kind)
            if kind == 'missing_class':  # the whole class is not salient
                m = lab == CLASSES.index(name)
                assert sal[m].mean() < 0.1, (img_id, e)
            elif kind == 'non_object':  # a salient region that is background
                assert (sal & (lab == 0)).sum() >= 10, (img_id, e)
    assert seen == {'missing_class', 'partial', 'non_object'}
    # an image with a partly covered object and no other error misses some foreground
    part = [i for i, k in errs['images'].items() if all(e.startswith('partial') for e in k)]
    assert part
    for i in part[:5]:
        sal = binarize_saliency(read_gray_png(osp.join(sal_dir, i + '.png')))
        fg = _label(root, i) > 0
        assert 0.05 < 1 - sal[fg].mean() < 0.9


def test_voc_wsss_dataset_and_pseudo_label_transform(medium, tmp_path):
    import demo.datasets  # noqa: F401  (registers SyntheticWSSSDataset)
    root, meta = medium
    p = dataset_paths(root)
    # Fake CAMs from the GT (one map a labelled class), only to exercise the read path.
    cam_dir = str(tmp_path / 'cams')
    labels = parse_cls_label_file(p['train_cls_labels'])
    for img_id, cls in labels.items():
        lab = _label(root, img_id)
        save_cams_npz(osp.join(cam_dir, img_id + '.npz'), cls,
                      np.stack([(lab == c + 1).astype(np.float32) for c in cls]))
    ds = DATASETS.build(dict(
        type='SyntheticWSSSDataset', data_root=root,
        ann_file='ImageSets/Segmentation/train_aug.txt',
        cls_label_file='cls_labels/train_aug.txt', pseudo_labels=True,
        pipeline=[dict(type='LoadImageFromFile'),
                  dict(type='SaliencyPseudoLabel', cam_dir=cam_dir,
                       sal_dir=p['sal_dirs']['SYN_CLEAN'], cam_format='npz', tau=0.5)]))
    assert len(ds) == 72 and ds.metainfo['classes'] == CLASSES
    agree = []
    for k in range(6):
        out = ds[k]
        img_id = osp.splitext(osp.basename(out['img_path']))[0]
        assert out['cls_labels'].tolist() == labels[img_id]
        assert out['num_classes'] == NUM_CLASSES
        gt = _label(root, img_id)
        agree.append((out['gt_seg_map'] == gt).mean())
    assert min(agree) > 0.97  # clean saliency + perfect CAMs ≈ GT

    val = DATASETS.build(dict(
        type='SyntheticWSSSDataset', data_root=root,
        ann_file='ImageSets/Segmentation/val.txt',
        pipeline=[dict(type='LoadImageFromFile'), dict(type='LoadAnnotations')]))
    assert len(val) == 24
    out = val[0]
    img_id = osp.splitext(osp.basename(out['img_path']))[0]
    np.testing.assert_array_equal(out['gt_seg_map'], _label(root, img_id))


def test_cli(tmp_path, capsys):
    out = str(tmp_path / 'cli')
    main([out, '--preset', 'smoke', '--num-train', '5', '--size', '48', '--no-progress'])
    text = capsys.readouterr().out
    assert 'generated' in text and all(k in text for k in SALIENCY_SOURCES)
    assert len(open(osp.join(out, 'ImageSets', 'Segmentation', 'train_aug.txt')).read()
               .split()) == 5
    main([out, '--preset', 'smoke', '--num-train', '5', '--size', '48', '--no-progress'])
    assert 'found finished' in capsys.readouterr().out
    with pytest.raises(SystemExit, match='--force'):  # other sizes: not overwritten
        main([out, '--preset', 'smoke', '--no-progress'])


def _png_ok(path):
    with Image.open(path) as im:
        assert im.format == 'PNG'
        im.load()
        arr = np.asarray(im.convert('RGB'))
    assert arr.std() > 5  # something was drawn
    return arr.shape


def test_figures(medium, tmp_path):
    root, meta = medium
    p = dataset_paths(root)
    ids = list(meta['splits']['val'])[:3]
    cam_dir = str(tmp_path / 'cams')
    rows, rows_store = [], []
    for i in ids:
        lab = _label(root, i)
        cls = meta['splits']['val'][i]
        rng = np.random.default_rng(0)
        cams = np.stack([(lab == c + 1) * rng.uniform(0.3, 1, lab.shape) for c in cls])
        save_cams_npz(osp.join(cam_dir, i + '.npz'), cls, cams)
        img = osp.join(p['img_dir'], i + '.jpg')
        sal = osp.join(p['sal_dirs']['SYN_ERRONEOUS'], i + '.png')
        row = figures.grid_row(img, cams, cls, sal, osp.join(p['ann_dir'], i + '.png'),
                               PseudoLabelRule(tau=0.4), title=i)
        ref = make_pseudo_label(cams, cls, binarize_saliency(read_gray_png(sal)), 0.4)
        np.testing.assert_array_equal(row['pseudo'], ref)
        np.testing.assert_array_equal(row['gt'], lab)
        rows.append(row)
        source = figures.PseudoLabelSource(CAMStore(cam_dir, 'npz'), PseudoLabelRule(tau=0.4),
                                           p['sal_dirs']['SYN_ERRONEOUS'])
        srow = figures.grid_row_from_store(img, source, cls, osp.join(p['ann_dir'], i + '.png'))
        assert srow['title'] == i
        # the store holds uint8 CAMs: the same rule on the rounded maps
        ref_u8 = make_pseudo_label(np.round(cams * 255) / 255, cls,
                                   binarize_saliency(read_gray_png(sal)), 0.4)
        assert (srow['pseudo'] == ref_u8).mean() > 0.99
        rows_store.append(srow)
    grid = str(tmp_path / 'out' / 'grid.png')
    figures.save_grid_figure(grid, rows, class_names=CLASSES, title='CAM / SYN_ERRONEOUS')
    # 5 columns and 3 rows of 1.6-inch panels (+ title and legend) at 100 dpi
    assert _png_ok(grid) == (570, 800, 3)
    figures.save_grid_figure(str(tmp_path / 'grid2.png'), rows_store)
    _png_ok(str(tmp_path / 'grid2.png'))
    curves = str(tmp_path / 'tau.png')
    taus = [0.1, 0.2, 0.3, 0.4]
    figures.save_tau_curves(curves, {'cam / SYN_CLEAN': (taus, [50, 60, 55, 40]),
                                     'ird / SYN_ERRONEOUS': (taus, [45, 52, 58, 50])})
    _png_ok(curves)
    assert not [f for f in os.listdir(tmp_path) if f.endswith('.tmp')]
    with pytest.raises(ValueError):
        figures.save_tau_curves(curves, {'bad': ([0.1, 0.2], [1.0])})
    # the source is checked once, before any row: saliency mode needs its maps
    with pytest.raises(ValueError, match="sal_dir is required in mode 'saliency'"):
        figures.PseudoLabelSource(CAMStore(cam_dir, 'npz'))
    with pytest.raises(ValueError, match='crf refines CAM-only labels'):
        figures.PseudoLabelSource(CAMStore(cam_dir, 'npz'), sal_dir=cam_dir, crf='psa')
    rgb = figures.label_to_rgb(np.array([[0, 1, 255]], np.uint8))
    assert rgb[0, 0].tolist() == [0, 0, 0] and rgb[0, 1].tolist() == [128, 0, 0]


def test_browse_pseudo_labels_draws_valid_pngs_on_the_fixtures(tmp_path):
    from tests.utils import load_tool
    cfg = osp.join(osp.dirname(__file__), 'configs', 'seg_tiny_deeplabv2_voc.py')
    import sys
    sys.path.insert(0, osp.dirname(cfg))  # its custom_imports
    try:
        paths = load_tool('browse_pseudo_labels').main(
            [cfg, '--out-dir', str(tmp_path), '--tau', '0.3', '--show-ignore',
             '--per-image', '3'])
    finally:
        sys.path.remove(osp.dirname(cfg))
    assert len(paths) == 2  # 4 training images, 3 rows a figure
    for p in paths:
        with Image.open(p) as img:
            img.verify()
        with Image.open(p) as img:
            arr = np.asarray(img.convert('RGB'))
            assert min(img.size) > 100 and arr.std() > 0
    with Image.open(paths[0]) as img:  # --show-ignore: magenta where labels are 255
        arr = np.asarray(img.convert('RGB')).astype(int)
        assert ((arr[..., 0] > 240) & (arr[..., 1] < 15) & (arr[..., 2] > 240)).any()


@pytest.mark.parametrize('damage', ['[1, 2]', 'params-only', 'splits-a-list'])
def test_a_damaged_meta_file_counts_as_absent(damage, tmp_path):
    """Fails before the fix: a synthetic_meta.json holding a list gave AttributeError
    ('list' object has no attribute 'get'); one with the right params but no splits, or
    splits of another type, was returned as the finished dataset's metadata. Now it
    counts as absent: the folder is refused as with no meta file, and --force redoes it."""
    from demo.synthetic import is_finished
    root = str(tmp_path / 'syn')
    meta = generate_dataset(root, **SMOKE)
    path = osp.join(root, 'synthetic_meta.json')
    bad = (json.loads(damage) if damage.startswith('[') else dict(params=meta['params'])
           if damage == 'params-only' else dict(meta, splits=[1]))
    with open(path, 'w') as f:
        json.dump(bad, f)
    assert not is_finished(root, SMOKE['num_train'], SMOKE['num_val'], SMOKE['size'])
    with pytest.raises(FileExistsError, match='--force'):  # as with no meta file at all
        generate_dataset(root, **SMOKE)
    again = generate_dataset(root, force=True, **SMOKE)
    assert {k: v for k, v in again.items() if k != 'generation_seconds'} == \
        {k: v for k, v in meta.items() if k != 'generation_seconds'}


def test_browse_pseudo_labels_refuses_an_input_folder_as_out_dir(voc_copy):
    """Fails before the fix: --out-dir at the saliency folder wrote the figures among the
    saliency maps (a figure named like an image id would replace its map)."""
    from tests.utils import load_tool
    cfg = osp.join(osp.dirname(__file__), 'configs', 'seg_tiny_deeplabv2_voc.py')
    sal = osp.join(voc_copy, 'saliency_maps', 'VOC2012_TEST')
    before = sorted(os.listdir(sal))
    import sys
    sys.path.insert(0, osp.dirname(cfg))  # its custom_imports
    try:
        with pytest.raises(SystemExit, match=r'--out-dir .* is the saliency'):
            load_tool('browse_pseudo_labels').main(
                [cfg, '--out-dir', sal, '--cfg-options',
                 f'train_dataloader.dataset.data_root={voc_copy}',
                 f'train_dataloader.dataset.maps_root={voc_copy}'])
    finally:
        sys.path.remove(osp.dirname(cfg))
    assert sorted(os.listdir(sal)) == before
