import os
import os.path as osp

import numpy as np
import pytest
from mmseg.registry import DATASETS

import mmwsss  # noqa: F401
from mmwsss.datasets.coco_labels import COCO_CLASSES
from mmwsss.errors import WSSSInputError
from tests.utils import load_tool

coco2014 = load_tool('dataset_converters/coco2014')


def _voc(root, **kw):
    cfg = dict(type='VOCWSSSDataset', data_root=root,
               ann_file='ImageSets/Segmentation/train_aug.txt', pipeline=[])
    cfg.update(kw)
    return DATASETS.build(cfg)


def test_voc_train_from_list_and_from_gt_agree(voc_root):
    a = _voc(voc_root, cls_label_file='cls_labels/train_aug.txt', pseudo_labels=True)
    b = _voc(voc_root, pseudo_labels=True)  # labels derived from SegmentationClassAug
    assert len(a) == len(b) == 4
    for i in range(4):
        ia, ib = a.get_data_info(i), b.get_data_info(i)
        assert ia['cls_labels'].tolist() == ib['cls_labels'].tolist()
        assert ia['num_classes'] == 20 and 'seg_map_path' not in ia
    assert a.get_data_info(0)['cls_labels'].tolist() == [0, 14]
    assert len(a.metainfo['classes']) == 21


def test_voc_val_is_gt_dataset(voc_root):
    ds = _voc(voc_root, ann_file='ImageSets/Segmentation/val.txt',
              pipeline=[dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
                        dict(type='PackSegInputs')])
    out = ds[1]
    lab = out['data_samples'].gt_sem_seg.data.numpy()
    assert set(np.unique(lab)) == {0, 13, 15}


def test_voc_bad_list(voc_copy, tmp_path):
    bad = tmp_path / 'cls.txt'
    bad.write_text('2007_000032 0 20\n')
    with pytest.raises(WSSSInputError, match=r"'2007_000032'.*cls\.txt.*line 1.*\[20\]"):
        _voc(voc_copy, cls_label_file=str(bad), pseudo_labels=True, ann_file='')
    bad.write_text('2007_000032 0\n')
    with pytest.raises(WSSSInputError, match=r'3 image\(s\) have no image-level label'):
        _voc(voc_copy, cls_label_file=str(bad), pseudo_labels=True)


def test_image_lists_are_read_robustly(voc_copy, tmp_path):
    """Fails before the fix: a DeepLab-style path list gave ids like
    '/JPEGImages/x.jpg /SegmentationClassAug/x.png' (a bare 'file not found' later), an id
    listed twice was trained on twice, and a BOM became part of the first id."""
    from mmwsss.fileio import read_id_list
    lst = tmp_path / 'list.txt'
    lst.write_bytes('\ufeff2007_000032\r\n\r\n2007_000039 0 14\n'.encode())
    assert read_id_list(str(lst)) == ['2007_000032', '2007_000039']
    assert _voc(voc_copy, ann_file=str(lst), cls_label_file='cls_labels/train_aug.txt',
                pseudo_labels=True).get_data_info(0)['img_id'] == '2007_000032'
    lst.write_text('/JPEGImages/2007_000032.jpg /SegmentationClassAug/2007_000032.png\n')
    with pytest.raises(WSSSInputError, match=r'list\.txt.*line 1.*is a path, not an image id'):
        _voc(voc_copy, ann_file=str(lst), pseudo_labels=True)
    lst.write_text('2007_000032\n2007_000039\n2007_000032\n')
    with pytest.raises(WSSSInputError, match=r"'2007_000032'.*line 3: listed twice \(first "
                                             r'on line 1\)'):
        _voc(voc_copy, ann_file=str(lst), pseudo_labels=True)
    lst.write_text('\n \n')
    with pytest.raises(WSSSInputError, match='image list is empty'):
        _voc(voc_copy, ann_file=str(lst), pseudo_labels=True)


def test_a_class_label_list_reads_its_ids_by_the_rule_of_the_id_lists(voc_copy, tmp_path):
    """Fails before the fix: a class-label list applied no rule to its ids, so
    '../JPEGImages/2007_000032' beside '2007_000032' trained on one image twice (the first
    with the labels of the second spelling), 'x.jpg' read x.jpg.jpg, and its duplicate
    message named one line only; '1_0' and '٣' were read as classes 10 and 3."""
    from mmwsss.fileio import parse_cls_label_file
    lst = tmp_path / 'cls.txt'
    for lines, error in [
            ('2007_000032 0 14\n2007_000039 19\n../JPEGImages/2007_000032 14\n',
             r"line 3: '\.\./JPEGImages/2007_000032' is a path, not an image id.*names the "
             r"image of line 1 \('2007_000032'\)"),
            ('2007_000039 19\n2007_000032.jpg 0\n',
             r"line 2: '2007_000032\.jpg' is a file name, not an image id"),
            ('2007_000032 0 14\n2007_000039 19\n2007_000032 0 14\n',
             r"line 3: listed twice \(first on line 1\)"),
            ('2007_000032 1_0\n', r'line 1: class ids must be integers'),
            ('2007_000032 \u0663\n', r'line 1: class ids must be integers')]:
        lst.write_text(lines, encoding='utf-8')
        with pytest.raises(WSSSInputError, match=r'cls\.txt.*' + error):
            parse_cls_label_file(str(lst), 20)
        with pytest.raises(WSSSInputError, match=error):
            _voc(voc_copy, cls_label_file=str(lst), pseudo_labels=True, ann_file='')


@pytest.mark.parametrize('reader', ['ids', 'labels'])
@pytest.mark.parametrize('data, error', [
    (b'2007_000032 0\n2007_000039\x00 19\n', r'line 2 holds a NUL byte'),
    ('2007_000032 0\n'.encode('utf-16'), r'line 1: UTF-16 text'),
    ('2007_000032 0\n'.encode('utf-16-le'), r'line 1 holds a NUL byte.*UTF-16'),
    (b'2007_000032 0\r\n2007_000039 19\r\ncaf\xe9 3\r\n', r'line 3, byte 4: not UTF-8 text'),
    ('2007_000032 0\n2007_000039\u200b 19\n'.encode(),
     r"line 2: '2007_000039\\u200b' holds the control or invisible character"),
    (b'2007_000032 0\n' + b'x' * (1 << 20) + b'\n', r'line 2 is over 1048576 characters'),
    (b'2007_000032 0\r2007_000039 19\rcaf\xe9 3\r', r'line 3, byte 4: not UTF-8 text'),
])
def test_list_bytes_that_are_not_text_are_named_by_file_and_line(tmp_path, reader, data,
                                                                  error):
    """Fails before the fix: a NUL byte or UTF-16 went into an id (a bare 'embedded null
    byte' later), Latin-1 bytes gave a bare UnicodeDecodeError naming no file, and an
    invisible zero-width space became part of an id."""
    from mmwsss.fileio import parse_cls_label_file, read_id_list
    lst = tmp_path / 'list.txt'
    lst.write_bytes(data)
    read = read_id_list if reader == 'ids' else parse_cls_label_file
    with pytest.raises(WSSSInputError, match=r"file '[^']*list\.txt': " + error):
        read(str(lst))


@pytest.mark.parametrize('lines, error', [
    ('x\ny\n../JPEGImages/x\n', r"line 3: '\.\./JPEGImages/x' is a path.*names the image of "
     r"line 1 \('x'\) a second time"),
    ('./x\ny\nx\n', r"line 1: '\./x' is a path.*names the image of line 3 \('x'\)"),
    ('y\nx.JPG\nx\n', r"line 2: 'x\.JPG' is a file name.*names the image of line 3"),
    ('x\ny\nX\n', r"lines 1 and 3 name one image under two spellings, 'x' and 'X'"),
    ('caf\u00e9\ncafe\u0301\n', r"lines 1 and 2 name one image under two spellings, "
     r"'caf\\xe9' and 'cafe\\u0301'"),
])
def test_one_image_under_two_spellings_is_refused_naming_both_lines(tmp_path, lines, error):
    """Fails before the fix: a path or file name was refused with its own line only, and
    'X' beside 'x' (one file on macOS and Windows), or one name in two Unicode forms,
    listed one image twice."""
    from mmwsss.fileio import parse_cls_label_file, read_id_list
    lst = tmp_path / 'list.txt'
    lst.write_text(lines, encoding='utf-8')
    for read in (read_id_list, parse_cls_label_file):
        with pytest.raises(WSSSInputError, match=error):
            read(str(lst))


def test_coco_converter_and_datasets(coco_root, tmp_path, capsys):
    out = str(tmp_path / 'coco_out')
    coco2014.main([coco_root, '-o', out])
    png = osp.join(out, 'SegmentationClass', 'train2014', 'COCO_train2014_000000000009.png')
    from PIL import Image
    lab = np.asarray(Image.open(png))
    dog = COCO_CLASSES.index('dog')  # category id 18 -> class 16 (ids have gaps)
    assert dog == 16
    assert set(np.unique(lab)) == {0, 1, dog + 1}
    lab25 = np.asarray(Image.open(png.replace('000000000009', '000000000025')))
    assert 255 in lab25 and 80 in lab25  # crowd region ignored; toothbrush (cat 90) = label 80
    assert lab25[15, 20] == 80  # the instance wins over the crowd region under it
    lines = open(osp.join(out, 'cls_labels', 'train2014.txt')).read().split('\n')
    assert lines[0] == 'COCO_train2014_000000000009 0 16'
    assert not any(ln.startswith('COCO_train2014_000000000030') for ln in lines)
    # resumable: a second run writes nothing
    mtime = osp.getmtime(png)
    coco2014.main([coco_root, '-o', out])
    assert osp.getmtime(png) == mtime
    assert '0 label maps written' in capsys.readouterr().out

    common = dict(type='COCOWSSSDataset', data_root=coco_root, pipeline=[])
    from_json = DATASETS.build(dict(common, ann_file='annotations/instances_train2014.json',
                                    pseudo_labels=True))
    from_list = DATASETS.build(dict(common, cls_label_file=osp.join(out, 'cls_labels',
                                                                    'train2014.txt'),
                                    pseudo_labels=True))
    assert len(from_json) == len(from_list) == 3  # the image without instances is left out
    for i in range(3):
        assert (from_json.get_data_info(i)['cls_labels'].tolist() ==
                from_list.get_data_info(i)['cls_labels'].tolist())
    assert from_json.get_data_info(2)['cls_labels'].tolist() == sorted(
        [COCO_CLASSES.index('cup'), COCO_CLASSES.index('chair')])
    assert len(from_json.metainfo['classes']) == 81
    val = dict(common, data_prefix=dict(img_path='val2014', seg_map_path=osp.join(
        out, 'SegmentationClass', 'val2014')), pipeline=[dict(type='LoadImageFromFile'),
                                                         dict(type='LoadAnnotations'),
                                                         dict(type='PackSegInputs')])
    papers = DATASETS.build(dict(val, ann_file=osp.join(out, 'ImageSets', 'val2014_wsss.txt')))
    assert len(papers) == 2
    assert set(np.unique(papers[1]['data_samples'].gt_sem_seg.data.numpy())) == {0, 3}
    full = DATASETS.build(dict(val, ann_file=osp.join(out, 'ImageSets', 'val2014.txt')))
    assert len(full) == 3  # the image without annotations too: all background
    assert set(np.unique(full[2]['data_samples'].gt_sem_seg.data.numpy())) == {0}


def test_coco_papers_val_list_leaves_out_the_images_without_an_object(coco_root, tmp_path):
    """The papers' list (WSSS-BED's val_cls.txt: 40,137 of val2014's 40,504) is the
    images with a non-crowd instance: what the converter leaves out of
    ``<split>_wsss.txt`` is exactly the images the json gives no annotation, plus
    crowd-only ones (a crowd region names no class)."""
    import json
    import shutil

    from mmwsss.fileio import read_id_list
    root = tmp_path / 'coco'
    shutil.copytree(coco_root, root)
    ann = root / 'annotations' / 'instances_train2014.json'
    data = json.load(open(ann))
    # image 25: a crowd region and a toothbrush; without the toothbrush, crowd only
    data['annotations'] = [a for a in data['annotations']
                           if a['image_id'] != 25 or a['iscrowd']]
    json.dump(data, open(ann, 'w'))
    out = tmp_path / 'out'
    coco2014.main([str(root), '-o', str(out)])
    for split, left_out in (('val2014', {3799}), ('train2014', {25, 30})):
        data = json.load(open(root / 'annotations' / f'instances_{split}.json'))
        stems = {i['id']: i['file_name'][:-4] for i in data['images']}
        full = read_id_list(str(out / 'ImageSets' / f'{split}.txt'))
        papers = read_id_list(str(out / 'ImageSets' / f'{split}_wsss.txt'))
        assert full == sorted(stems.values())
        assert papers == [i for i in full if i not in {stems[n] for n in left_out}]
        cls = [ln.split()[0] for ln in open(out / 'cls_labels' / f'{split}.txt')]
        assert cls == papers  # one rule: the images with a class
        if split == 'val2014':  # the fixture's unannotated image is the one left out
            assert set(full) - set(papers) == set(stems.values()) - {
                stems[a['image_id']] for a in data['annotations']}


def test_coco_converter_reruns_check_the_annotations_and_empty_maps(tmp_path, coco_root):
    """Fails before the fix: after the annotations changed a rerun kept the old maps and
    rewrote the lists, which then disagreed; a zero-byte map counted as done."""
    import json
    import shutil
    root = tmp_path / 'coco'
    shutil.copytree(coco_root, root)
    out = tmp_path / 'out'
    coco2014.main([str(root), '-o', str(out), '--splits', 'train2014'])
    seg = out / 'SegmentationClass' / 'train2014'
    png = seg / 'COCO_train2014_000000000009.png'
    png.write_bytes(b'')  # a power loss after the rename, before the data reached disk
    coco2014.main([str(root), '-o', str(out), '--splits', 'train2014'])
    assert png.stat().st_size > 0
    ann = root / 'annotations' / 'instances_train2014.json'
    data = json.load(open(ann))
    data['annotations'] = [a for a in data['annotations'] if a['image_id'] != 9]
    json.dump(data, open(ann, 'w'))
    before = open(out / 'cls_labels' / 'train2014.txt').read()
    with pytest.raises(SystemExit, match='other settings.*--force'):
        coco2014.main([str(root), '-o', str(out), '--splits', 'train2014'])
    assert open(out / 'cls_labels' / 'train2014.txt').read() == before  # lists untouched
    coco2014.main([str(root), '-o', str(out), '--splits', 'train2014', '--force'])
    from PIL import Image
    assert set(np.unique(np.asarray(Image.open(png)))) == {0}
    assert 'COCO_train2014_000000000009' not in open(out / 'cls_labels' / 'train2014.txt').read()


def test_coco_file_name_with_a_folder_is_refused(tmp_path, coco_root):
    """Fails before the fix: file_name '../../x.jpg' made the converter write outside -o."""
    import json
    import shutil
    root = tmp_path / 'coco'
    shutil.copytree(coco_root, root)
    ann = root / 'annotations' / 'instances_train2014.json'
    data = json.load(open(ann))
    data['images'][0]['file_name'] = '../../escape.jpg'
    json.dump(data, open(ann, 'w'))
    out = tmp_path / 'out'
    with pytest.raises(WSSSInputError, match=r"instances_train2014.json.*'\.\./\.\./escape"
                                             r"\.jpg': a plain file name"):
        coco2014.main([str(root), '-o', str(out)])
    assert not (tmp_path / 'escape.png').exists() and not list(tmp_path.glob('**/escape*'))


_BAD_COCO = [
    ('images', 0, 'height', 48.5, r'image 9: height must be a positive integer, got 48\.5'),
    ('images', 0, 'width', 0, r'image 9: width must be a positive integer, got 0'),
    ('annotations', 0, 'category_id', 1000, r'annotation 1: category_id 1000 is not a listed'),
    ('annotations', 0, 'category_id', '1', r"annotation 1: category_id '1' is not a listed"),
    ('annotations', 0, 'iscrowd', 2, r'annotation 1: iscrowd must be 0 or 1, got 2'),
    ('annotations', 0, 'area', None, r'annotation 1: area must be a number >= 0, got None'),
    ('annotations', 0, 'segmentation', [[4, 6, 24]], r'annotation 1: a polygon must be'),
    ('annotations', 0, 'segmentation', {'size': [10, 10], 'counts': 'a'},
     r'annotation 1: an RLE of size \[10, 10\] \(H, W\) on image 9 of 48×64'),
]


@pytest.mark.parametrize('table, index, key, value, msg', _BAD_COCO)
def test_coco_fields_are_checked_for_type_and_range(table, index, key, value, msg, tmp_path,
                                                    coco_root):
    """Fails before the fix: a fractional height gave a TypeError naming no file, width 0
    and an RLE of another size pycocotools' 'Invalid RLE mask representation', category
    1000 or '1' a bare KeyError, area None a TypeError, a 3-number polygon 'input type is
    not supported'; iscrowd 2 passed in silence (painted as a crowd region)."""
    import json
    import shutil
    root = tmp_path / 'coco'
    shutil.copytree(coco_root, root)
    ann = root / 'annotations' / 'instances_train2014.json'
    data = json.load(open(ann))
    data[table][index][key] = value
    json.dump(data, open(ann, 'w'))
    with pytest.raises(WSSSInputError, match=r'instances_train2014\.json.*' + msg):
        coco2014.main([str(root), '-o', str(tmp_path / 'out'), '--splits', 'train2014'])


def test_check_data_names_each_missing_file_and_its_key(voc_copy, tmp_path):
    import os
    from tests.utils import load_tool
    tool = load_tool('check_data')
    cfg = osp.join(osp.dirname(__file__), 'configs', 'seg_tiny_deeplabv2_voc.py')
    opts = ['--cfg-options', f'train_dataloader.dataset.data_root={voc_copy}',
            f'train_dataloader.dataset.maps_root={voc_copy}',
            f'val_dataloader.dataset.data_root={voc_copy}']
    import sys
    sys.path.insert(0, osp.dirname(cfg))  # its custom_imports
    try:
        assert tool.main([cfg] + opts) == []
        os.rename(osp.join(voc_copy, 'cls_labels', 'train_aug.txt'),
                  osp.join(voc_copy, 'cls_labels', 'train_aug_cls.txt'))  # WSSS-BED's name
        import shutil
        shutil.rmtree(osp.join(voc_copy, 'saliency_maps'))
        with pytest.raises(SystemExit, match='2 problem'):
            tool.main([cfg] + opts)
        from mmwsss.config import load_config
        from mmwsss.preflight.data import check_data
        lines = check_data(load_config(cfg, dict(a.split('=', 1) for a in opts[1:])))
        assert any('train_dataloader.dataset.cls_label_file' in ln and
                   'train_aug_cls.txt is there' in ln for ln in lines)
        assert any('data_prefix.sal_path' in ln and 'maps_root' in ln for ln in lines)
        # a 0-byte image (failed before: an OpenCV assertion in training, no file named)
        img = osp.join(voc_copy, 'JPEGImages', '2007_000032.jpg')
        open(img, 'wb').close()
        lines = check_data(load_config(cfg, dict(a.split('=', 1) for a in opts[1:])))
        assert any(ln.startswith('train_dataloader.dataset:') and f'{img} (0 bytes)' in ln
                   for ln in lines)
        # a val mask that mmseg's voc_aug.py does not write (VOC's own, not SBD's):
        # before, only the folder was checked and the first validation failed
        aug = osp.join(voc_copy, 'SegmentationClassAug')
        os.makedirs(osp.join(voc_copy, 'SegmentationClass'))
        os.rename(osp.join(aug, '2007_000033.png'),
                  osp.join(voc_copy, 'SegmentationClass', '2007_000033.png'))
        lines = check_data(load_config(cfg, dict(a.split('=', 1) for a in opts[1:])))
        val = [ln for ln in lines if ln.startswith('val_dataloader.dataset:')]
        assert len(val) == 1 and '1 of the 2 GT masks' in val[0], lines
        assert f'{aug}/2007_000033.png (missing)' in val[0]
        assert f'cp {osp.join(voc_copy, "SegmentationClass")}/*.png {aug}/' in val[0]
        # SBD's mask where VOC has its own: no error anywhere, validation scored
        # against the wrong GT (before: not checked)
        shutil.copy(osp.join(voc_copy, 'SegmentationClass', '2007_000033.png'), aug)
        from mmwsss.fileio import read_label_png, save_label_png
        official = osp.join(voc_copy, 'SegmentationClass', '2010_000001.png')
        sbd = read_label_png(osp.join(aug, '2010_000001.png'))
        save_label_png(official, np.where(sbd == 15, 255, sbd))
        lines = check_data(load_config(cfg, dict(a.split('=', 1) for a in opts[1:])))
        val = [ln for ln in lines if ln.startswith('val_dataloader.dataset:')]
        assert len(val) == 1 and '1 of 2 masks' in val[0] and '2010_000001.png' in val[0], lines
        shutil.copy(official, aug)
        lines = check_data(load_config(cfg, dict(a.split('=', 1) for a in opts[1:])))
        assert not [ln for ln in lines if ln.startswith('val_dataloader.dataset:')], lines
    finally:
        sys.path.remove(osp.dirname(cfg))


@pytest.mark.skipif(os.geteuid() == 0, reason='root reads a file of mode 000: nothing to '
                    'report (run as a normal user to test it)')
def test_check_data_reports_unreadable_files_and_folders_as_unreadable(voc_copy):
    """Fails before the fix: files of mode 000 were 'all there' (training then failed on
    the first), an unreadable map folder's files were called missing, an unreadable image
    folder was a PermissionError traceback, and an unreadable list a bare PermissionError."""
    from mmwsss.config import load_config
    from mmwsss.preflight.data import check_data
    cfg = osp.join(osp.dirname(__file__), 'configs', 'seg_tiny_deeplabv2_voc.py')
    opts = {'train_dataloader.dataset.data_root': voc_copy,
            'train_dataloader.dataset.maps_root': voc_copy,
            'val_dataloader.dataset.data_root': voc_copy}
    import sys
    sys.path.insert(0, osp.dirname(cfg))  # its custom_imports
    img = osp.join(voc_copy, 'JPEGImages', '2007_000032.jpg')
    cam = osp.join(voc_copy, 'activation_maps', 'VOC2012_TEST', '2007_000039_19.png')
    sal_dir = osp.join(voc_copy, 'saliency_maps', 'VOC2012_TEST')
    sal = osp.join(sal_dir, '2008_000002.png')
    mask = osp.join(voc_copy, 'SegmentationClassAug', '2007_000033.png')
    try:
        assert check_data(load_config(cfg, opts)) == []
        for path in (img, cam, sal, mask):
            os.chmod(path, 0)
        lines = check_data(load_config(cfg, opts))
        text = '\n'.join(lines)
        assert 'missing' not in text, lines
        assert any(ln.startswith('train_dataloader.dataset:') and 'are unreadable' in ln and
                   f'{img} (unreadable: permission denied)' in ln for ln in lines), lines
        assert any(ln.startswith('val_dataloader.dataset:') and
                   f'{mask} (unreadable: permission denied)' in ln for ln in lines), lines
        assert any('data_prefix.cam_path: 1 CAM file(s)' in ln and 'unreadable' in ln and
                   cam in ln for ln in lines), lines
        assert any('data_prefix.sal_path: 1 saliency map file(s)' in ln and sal in ln
                   for ln in lines), lines
        os.chmod(sal_dir, 0)
        os.chmod(osp.join(voc_copy, 'JPEGImages'), 0o300)  # enterable, not listable
        lines = check_data(load_config(cfg, opts))
        assert 'missing' not in '\n'.join(lines), lines
        assert any('data_prefix.sal_path: saliency map folder' in ln and
                   f'{sal_dir} cannot be listed' in ln for ln in lines), lines
        assert any('data_prefix.img_path: image folder' in ln and 'cannot be listed' in ln
                   for ln in lines), lines
        os.chmod(osp.join(voc_copy, 'JPEGImages'), 0o755)
        os.chmod(osp.join(voc_copy, 'cls_labels', 'train_aug.txt'), 0)
        lines = check_data(load_config(cfg, opts))
        assert any('train_aug.txt' in ln and 'unreadable (permission denied)' in ln
                   for ln in lines), lines
    finally:  # pytest must be able to remove the copy
        for root, dirs, files in os.walk(voc_copy):
            for name in dirs + files:
                os.chmod(osp.join(root, name), 0o755)


def test_check_data_stats_every_gt_subset_mask(voc_copy, tmp_path, monkeypatch):
    """Fails before the fix (issue 21, WEAK): a missing or 0-byte GT mask of a
    gt_subset image, and a subset id that is not in the training list, passed
    check_data (only the GT folder was looked at); training then stopped at the
    first such image, hours in."""
    import os

    from mmwsss.config import load_config
    from mmwsss.preflight.data import check_data
    cfg = osp.join(osp.dirname(__file__), 'configs', 'seg_tiny_deeplabv2_voc.py')
    monkeypatch.syspath_prepend(osp.dirname(cfg))  # its custom_imports
    subset = tmp_path / 'subset.txt'
    subset.write_text('2007_000032\n2008_000002\n2009_000010\n')
    opts = {'train_dataloader.dataset.data_root': voc_copy,
            'train_dataloader.dataset.maps_root': voc_copy,
            'val_dataloader.dataset.data_root': voc_copy,
            'train_dataloader.dataset.gt_subset': str(subset)}
    assert check_data(load_config(cfg, opts)) == []
    aug = osp.join(voc_copy, 'SegmentationClassAug')
    os.remove(osp.join(aug, '2007_000032.png'))
    open(osp.join(aug, '2008_000002.png'), 'wb').close()
    subset.write_text('2007_000032\n2008_000002\n2009_000010\n2007_000033\n')  # a val id
    lines = [ln for ln in check_data(load_config(cfg, opts)) if 'gt_subset' in ln]
    assert len(lines) == 2, lines
    assert '1 of the 4 ids' in lines[0] and '2007_000033' in lines[0] and \
        'train_aug.txt' in lines[0]
    assert lines[1].startswith('train_dataloader.dataset.gt_subset: 2 of the 4 GT masks') and \
        f'{aug}/2007_000032.png (missing)' in lines[1] and \
        f'{aug}/2008_000002.png (0 bytes)' in lines[1]


def _ann(data, ann_id):
    return next(a for a in data['annotations'] if a['id'] == ann_id)


def _set(table, index, key, value):
    def edit(data):
        data[table][index][key] = value
    return edit


def _rle_counts(counts):  # annotation 4 is the crowd RLE of image 25 (48×64)
    def edit(data):
        _ann(data, 4)['segmentation']['counts'] = counts
    return edit


_HOSTILE_COCO = [
    # an uncompressed RLE short of H×W: today labels from uninitialised memory
    ('rle-short', _rle_counts([1000, 100]), r'annotation 4: the RLE counts sum to 1100, '
     r'not 48×64 = 3072'),
    ('rle-long', _rle_counts([3000, 100]), r'annotation 4: the RLE counts sum to 3100'),
    ('rle-negative', _rle_counts([-5, 3077]), r'annotation 4: RLE counts must be integers '
     r'>= 0 and at most 3072 \(H×W\), got -5'),
    ('rle-float', _rle_counts([1000.5, 2071.5]), r'annotation 4: RLE counts must be '
     r'integers >= 0 and at most 3072 \(H×W\), got 1000\.5'),
    ('rle-huge', _rle_counts([2 ** 32 + 1000, 2072]), r'annotation 4: RLE counts must be '
     r'integers >= 0 and at most 3072 \(H×W\), got 4294968296'),
    ('rle-string-long-number', _rle_counts('n0ooooooo0'), r'annotation 4: a number in the '
     r'compressed RLE string at 2 is longer than 6 characters'),
    ('rle-string-negative', _rle_counts('n0b0B'), r'annotation 4: the compressed RLE string '
     r'decodes to a count of -14 \(count 2\), below 0'),
    ('rle-string-garbage', _rle_counts('n0b0 ~!'), r"annotation 4: a compressed RLE string "
     r"holds ' ' at 4: only the characters 0 to o"),
    ('rle-string-cut', _rle_counts('n0b0n'), r'annotation 4: the compressed RLE string '
     r'ends inside a number'),
    ('rle-string-short', _rle_counts('n0b0'), r'annotation 4: the RLE counts sum to'),
    ('rle-size-float', lambda d: _ann(d, 4)['segmentation'].update(size=[48.0, 64]),
     r'annotation 4: an RLE of size \[48\.0, 64\]'),
    ('dup-image-id', _set('images', 1, 'id', 9), r'image 9: listed twice'),
    ('dup-ann-id', _set('annotations', 4, 'id', 1), r'annotation 1: listed twice'),
    ('dup-category-id', _set('categories', 1, 'id', 1), r'category 1: listed twice'),
    ('79-categories', lambda d: d['categories'].pop(), r'categories: 79 categories, '
     r'expected 80 \(COCO-14\)'),
    ('renamed-category', _set('categories', 4, 'name', 'person'), r"category 5: name "
     r"'person', but COCO-14's category of this rank is 'airplane'"),
    ('repeated-key', None, r"the key 'category_id' appears twice in one object"),
    ('dup-file-name', _set('images', 1, 'file_name', 'COCO_train2014_000000000009.jpg'),
     r"image 25: file_name 'COCO_train2014_000000000009\.jpg' names the same label map as "
     r'image 9'),
    ('dup-stem', _set('images', 1, 'file_name', 'COCO_train2014_000000000009.png'),
     r"image 25: file_name 'COCO_train2014_000000000009\.png' names the same label map"),
    ('dup-stem-case', _set('images', 1, 'file_name', 'coco_TRAIN2014_000000000009.jpg'),
     r"image 25: file_name 'coco_TRAIN2014_000000000009\.jpg' names the same label map as "
     r"image 9 \('COCO_train2014_000000000009\.jpg'\)"),
    ('stem-like-a-path', _set('images', 1, 'file_name', 'x.jpg.jpg'), r"image 25: "
     r"file_name 'x\.jpg\.jpg': its id 'x\.jpg' is a file name, not an image id"),
    ('space-in-name', _set('images', 1, 'file_name', 'a b.jpg'),
     r"image 25: file_name 'a b\.jpg' holds whitespace"),
    ('newline-in-name', _set('images', 1, 'file_name', 'ab.jpg\nc'),
     r"image 25: file_name 'ab\.jpg\\nc' holds whitespace"),
    ('name-not-text', _set('images', 1, 'file_name', 25), r'image 25: file_name must be '
     r'a string'),
    ('absurd-size', lambda d: d['images'][2].update(height=10 ** 6, width=10 ** 6),
     r"image 30: 1000000×1000000 = 1000000000000 pixels, more than Pillow's limit of "
     r'89478485'),
    ('absurd-size-2', lambda d: d['images'][1].update(height=20000, width=20000),
     r"image 25: 20000×20000 = 400000000 pixels, more than Pillow's limit"),
    ('empty-segmentation', _set('annotations', 0, 'segmentation', []),
     r'annotation 1: segmentation is an empty list'),
    ('far-polygon', _set('annotations', 0, 'segmentation', [[4, 6, 1e6, 6, 24, 36]]),
     r'annotation 1: a polygon coordinate 1000000\.0 lies far outside'),
    ('no-ann-id', lambda d: d['annotations'][0].pop('id'), r'annotations\[0\]: id must be '
     r'an integer, got None'),
    ('image-id-text', _set('images', 0, 'id', '9'), r"images\[0\]: id must be an integer, "
     r"got '9'"),
    ('images-not-list', lambda d: d.update(images={'id': 9}), r'"images": must be a list, '
     r'got dict'),
    ('image-not-dict', lambda d: d['images'].append([9]), r'images\[4\] must be an object'),
    ('missing-image', _set('annotations', 0, 'image_id', 10), r'annotation 1: image_id 10 '
     r'is not a listed image'),
]


@pytest.mark.parametrize('name, edit, msg', _HOSTILE_COCO, ids=[c[0] for c in _HOSTILE_COCO])
def test_coco_converter_refuses_hostile_geometry_and_ids(name, edit, msg, tmp_path,
                                                          coco_root):
    """Fails before the fix. Passed in silence: an RLE (list or string) short of H×W
    (labels from uninitialised memory), float counts, a duplicate annotation id (one
    object took another's class), one file stem for two images (one label map
    overwritten), whitespace in a file name (broken id lists), a renamed category, a key
    twice in one object, a polygon 10^6 px off the image. Crashed bare: counts below 0 or
    past 2**32 (OverflowError), bad compressed strings ('Invalid RLE mask
    representation'), a 10^6×10^6 image (MemoryError), an empty segmentation
    (IndexError), no annotation id (KeyError), "images" not a list (TypeError), 79
    categories (a ValueError traceback). A duplicate image id dropped an image and blamed
    an annotation."""
    import json
    import shutil
    root = tmp_path / 'coco'
    shutil.copytree(coco_root, root, ignore=shutil.ignore_patterns('*.jpg'))
    ann = root / 'annotations' / 'instances_train2014.json'
    data = json.load(open(ann))
    if edit:
        edit(data)
        json.dump(data, open(ann, 'w'))
    else:  # a second "category_id" in annotation 1, which json.load drops in silence
        ann.write_text(ann.read_text().replace('"category_id": 1,', '"category_id": 1, '
                                               '"category_id": 5,', 1))
    with pytest.raises(WSSSInputError, match=r'instances_train2014\.json.*' + msg):
        coco2014.main([str(root), '-o', str(tmp_path / 'out'), '--splits', 'train2014'])


def test_coco_refused_annotations_leave_nothing_behind(tmp_path, coco_root):
    """Fails before the fix: the refused run had written meta.json with the bad file's
    SHA-256, so the rerun on the fixed file was refused as "other settings"."""
    import json
    import shutil
    root = tmp_path / 'coco'
    shutil.copytree(coco_root, root, ignore=shutil.ignore_patterns('*.jpg'))
    ann = root / 'annotations' / 'instances_train2014.json'
    good = ann.read_text()
    data = json.loads(good)
    data['images'][0]['width'] = 0
    ann.write_text(json.dumps(data))
    out = tmp_path / 'out'
    with pytest.raises(WSSSInputError, match='image 9: width must be a positive integer'):
        coco2014.main([str(root), '-o', str(out), '--splits', 'train2014'])
    assert not out.exists()
    ann.write_text(good)
    coco2014.main([str(root), '-o', str(out), '--splits', 'train2014'])
    assert (out / 'SegmentationClass' / 'train2014' / 'COCO_train2014_000000000009.png').is_file()


def test_coco_json_that_is_not_json_is_refused_with_its_name(tmp_path, coco_root):
    """Fails before the fix: a bare JSONDecodeError naming no file."""
    import shutil
    root = tmp_path / 'coco'
    shutil.copytree(coco_root, root, ignore=shutil.ignore_patterns('*.jpg'))
    (root / 'annotations' / 'instances_train2014.json').write_text('{"images": [')
    with pytest.raises(WSSSInputError, match=r'instances_train2014\.json.*not valid JSON'):
        coco2014.main([str(root), '-o', str(tmp_path / 'out'), '--splits', 'train2014'])


def test_coco_dataset_json_gets_the_same_checks(tmp_path, coco_root):
    """Fails before the fix: with a duplicate annotation id the dataset took one object's
    class for another's in silence."""
    import json
    import shutil
    root = tmp_path / 'coco'
    shutil.copytree(coco_root, root, ignore=shutil.ignore_patterns('*.jpg'))
    ann = root / 'annotations' / 'instances_train2014.json'
    data = json.load(open(ann))
    data['annotations'][4]['id'] = 1
    json.dump(data, open(ann, 'w'))
    with pytest.raises(WSSSInputError, match=r'instances_train2014\.json.*annotation 1: '
                                             r'listed twice'):
        DATASETS.build(dict(type='COCOWSSSDataset', data_root=str(root), pipeline=[],
                            ann_file='annotations/instances_train2014.json'))


def test_rle_string_decoder_agrees_with_pycocotools():
    """The checker decodes compressed RLE strings itself (pycocotools' own decoder reads
    past a cut string): against pycocotools' encoder on random masks, runs long and short
    (numbers of several characters, negative deltas), its counts are the runs of the
    column-major mask."""
    from pycocotools import mask as mask_utils

    from mmwsss.datasets.coco_labels import rle_string_counts
    rng = np.random.default_rng(0)
    for h, w, p in [(7, 300, 0.5), (40, 900, 0.999), (3, 5, 0.1), (600, 400, 0.99999)]:
        m = np.asfortranarray((rng.random((h, w)) < p).astype(np.uint8))
        flat = m.flatten(order='F')
        edges = np.flatnonzero(np.diff(flat)) + 1
        runs = np.diff(np.concatenate([[0], edges, [flat.size]])).tolist()
        want = ([0] if flat[0] else []) + runs
        counts = mask_utils.encode(m)['counts'].decode()
        assert rle_string_counts(counts) == want
        assert sum(want) == h * w
