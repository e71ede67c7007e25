"""SaliencyPseudoLabel on the fixture, in stock and mmwsss pipelines, and its errors."""
import os
import os.path as osp

import numpy as np
import pytest
from mmcv.transforms import LoadImageFromFile
from mmseg.registry import DATASETS, TRANSFORMS
from PIL import Image

import mmwsss  # noqa: F401
from mmwsss.errors import WSSSInputError
from mmwsss.fileio import CAMStore, read_gray_png
from mmwsss.functional import binarize_saliency, make_pseudo_label


def _transform(root, **kw):
    args = dict(type='SaliencyPseudoLabel', cam_dir=osp.join(root, 'activation_maps',
                                                             'VOC2012_TEST'),
                sal_dir=osp.join(root, 'saliency_maps', 'VOC2012_TEST'))
    args.update(kw)
    return TRANSFORMS.build(args)


def _run(root, img_id, cls=None, **kw):
    res = LoadImageFromFile()(dict(img_path=osp.join(root, 'JPEGImages', img_id + '.jpg')))
    if cls is not None:
        res['cls_labels'] = np.array(cls)
    return _transform(root, **kw)(res)


def test_expected_label_and_fields(voc_root):
    res = _run(voc_root, '2007_000032', [0, 14])
    lab = res['gt_seg_map']
    assert lab.dtype == np.uint8 and lab.shape == res['img'].shape[:2]
    assert res['seg_fields'] == ['gt_seg_map']
    sal = binarize_saliency(read_gray_png(
        osp.join(voc_root, 'saliency_maps', 'VOC2012_TEST', '2007_000032.png')))
    cams, keys = CAMStore(osp.join(voc_root, 'activation_maps', 'VOC2012_TEST')).load(
        '2007_000032', [0, 14])
    ref = make_pseudo_label(cams.astype(np.float32) / 255, keys, sal, 0.1)
    np.testing.assert_array_equal(lab, ref)
    assert set(np.unique(lab)) <= {0, 1, 15, 255}
    assert (lab[:-4, :4] == 0).all()  # saliency value 51 is not salient
    assert (lab[-4:] != 0).all()  # 52 is: salient pixels are a class or 255


def test_npz_store_and_store_classes(voc_root):
    a = _run(voc_root, '2008_000002', [11, 14], cam_dir=osp.join(voc_root, 'cams_npz'),
             cam_format='npz')['gt_seg_map']
    b = _run(voc_root, '2008_000002', None, cam_dir=osp.join(voc_root, 'cams_npz'),
             cam_format='npz')['gt_seg_map']
    c = _run(voc_root, '2008_000002', [11, 14])['gt_seg_map']
    np.testing.assert_array_equal(a, b)
    # float16 npz vs round(255·cam) PNG: the same up to quantisation
    assert (a == c).mean() > 0.97


def test_no_saliency_mode(voc_root):
    lab = _run(voc_root, '2007_000032', [0, 14], sal_dir=None, mode='no_saliency',
               tau=0.2)['gt_seg_map']
    assert 255 not in lab and {1, 15} <= set(np.unique(lab))
    # saliency mode with no saliency source (no sal_dir, no dataset sal_path)
    with pytest.raises(ValueError, match='no_saliency'):
        _run(voc_root, '2007_000032', [0, 14], sal_dir=None)


def test_rule_values_are_checked_at_construction(voc_root):
    for bad in (dict(tau=float('nan')), dict(tau=1.5), dict(sal_threshold=-0.1),
                dict(mode='sal'), dict(ignore_index=0), dict(cam_format='png')):
        with pytest.raises(ValueError):
            _transform(voc_root, **bad)


def test_paths_from_the_dataset(voc_root):
    """A WSSS dataset says where the maps are; cam_dir / sal_dir override it."""
    ds = DATASETS.build(dict(
        type='VOCWSSSDataset', data_root=voc_root, maps_root=voc_root,
        ann_file='ImageSets/Segmentation/train_aug.txt',
        cls_label_file='cls_labels/train_aug.txt', pseudo_labels=True,
        data_prefix=dict(img_path='JPEGImages', cam_path='cams_npz',
                         sal_path='saliency_maps/VOC2012_TEST'),
        pseudo_label_cfg=dict(cam_format='npz', tau=0.1),
        pipeline=[dict(type='LoadImageFromFile'), dict(type='PackSegInputs')]))
    info = ds.get_data_info(0)
    assert info['img_id'] == '2007_000032'
    assert info['cam_path'] == osp.join(voc_root, 'cams_npz', '2007_000032')
    assert info['sal_path'] == osp.join(voc_root, 'saliency_maps', 'VOC2012_TEST',
                                        '2007_000032.png')
    assert [type(t).__name__ for t in ds.pipeline.transforms] == [
        'LoadImageFromFile', 'SaliencyPseudoLabel', 'PackSegInputs']
    lab = ds[0]['data_samples'].gt_sem_seg.data.numpy()[0]
    ref = _run(voc_root, '2007_000032', [0, 14], cam_dir=osp.join(voc_root, 'cams_npz'),
               cam_format='npz')['gt_seg_map']
    np.testing.assert_array_equal(lab, ref)
    # the transform's own folders override the data info's
    res = LoadImageFromFile()(dict(ds.get_data_info(0)))
    res['cam_path'] = '/nowhere/2007_000032'
    lab2 = _transform(voc_root, cam_dir=osp.join(voc_root, 'cams_npz'), cam_format='npz')(res)
    np.testing.assert_array_equal(lab2['gt_seg_map'], ref)


def test_stock_mmseg_voc_pipeline(voc_root):
    """After LoadImageFromFile of mmseg's own PascalVOCDataset, and from the mmseg scope."""
    ds = DATASETS.build(dict(
        type='mmseg.PascalVOCDataset', data_root=voc_root,
        ann_file='ImageSets/Segmentation/train_aug.txt',
        data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClassAug'),
        pipeline=[dict(type='LoadImageFromFile'),
                  dict(type='mmseg.SaliencyPseudoLabel',
                       cam_dir=osp.join(voc_root, 'activation_maps', 'VOC2012_TEST'),
                       sal_dir=osp.join(voc_root, 'saliency_maps', 'VOC2012_TEST')),
                  dict(type='RandomFlip', prob=1.0),
                  dict(type='PackSegInputs')]))
    out = ds[0]
    lab = out['data_samples'].gt_sem_seg.data.numpy()[0]
    ref = _run(voc_root, '2007_000032')['gt_seg_map'][:, ::-1]
    np.testing.assert_array_equal(lab, ref)


@pytest.mark.parametrize('damage,match', [
    ('rm_sal', r"'2007_000032'.*2007_000032\.png.*saliency map file not found"),
    ('rm_cam', r"'2007_000032'.*2007_000032_14\.png.*CAM file not found"),
    ('resize_sal', r"'2007_000032'.*2007_000032\.png.*saliency map is 10×10"),
    ('resize_cam', r"'2007_000032'.*VOC2012_TEST.*CAM is 10×10"),
    ('garbage_sal', r"'2007_000032'.*2007_000032\.png.*unreadable saliency"),
])
def test_bad_files(voc_copy, damage, match):
    cam_dir = osp.join(voc_copy, 'activation_maps', 'VOC2012_TEST')
    sal = osp.join(voc_copy, 'saliency_maps', 'VOC2012_TEST', '2007_000032.png')
    if damage == 'rm_sal':
        os.remove(sal)
    elif damage == 'rm_cam':
        os.remove(osp.join(cam_dir, '2007_000032_14.png'))
    elif damage == 'resize_sal':
        Image.fromarray(np.zeros((10, 10), np.uint8)).save(sal)
    elif damage == 'resize_cam':
        for c in (0, 14):
            Image.fromarray(np.zeros((10, 10), np.uint8)).save(
                osp.join(cam_dir, f'2007_000032_{c}.png'))
    elif damage == 'garbage_sal':
        with open(sal, 'wb') as f:
            f.write(b'\x89PNG\r\n garbage')
    with pytest.raises(WSSSInputError, match=match):
        _run(voc_copy, '2007_000032', [0, 14])


def test_bad_npz_values_and_classes(voc_copy):
    d = osp.join(voc_copy, 'cams_npz')
    np.savez(osp.join(d, '2007_000032.npz'), keys=np.array([0, 14]),
             cams=np.full((2, 48, 64), np.nan, np.float16))
    with pytest.raises(WSSSInputError, match=r"'2007_000032'.*2007_000032\.npz.*NaN"):
        _run(voc_copy, '2007_000032', [0, 14], cam_dir=d, cam_format='npz')
    np.savez(osp.join(d, '2007_000032.npz'), keys=np.array([0, 14]),
             cams=np.full((2, 48, 64), 1.2, np.float16))
    with pytest.raises(WSSSInputError, match=r'2007_000032\.npz.*\[0, 1\]'):
        _run(voc_copy, '2007_000032', [0, 14], cam_dir=d, cam_format='npz')
    # a labelled class without a CAM
    with pytest.raises(WSSSInputError, match=r"'2007_000039'.*2007_000039\.npz.*\[3\] have no CAM"):
        _run(voc_copy, '2007_000039', [3, 19], cam_dir=d, cam_format='npz')
    # a class id out of range for the dataset
    res = LoadImageFromFile()(dict(img_path=osp.join(voc_copy, 'JPEGImages', '2007_000039.jpg')))
    res.update(cls_labels=np.array([25]), num_classes=20)
    with pytest.raises(WSSSInputError, match=r"'2007_000039'.*unknown class id.*25.*0\.\.19"):
        _transform(voc_copy)(res)
    # a store holding an unknown class (no cls_labels given)
    np.savez(osp.join(d, '2009_000010.npz'), keys=np.array([30]),
             cams=np.zeros((1, 48, 48), np.uint8))
    res = LoadImageFromFile()(dict(img_path=osp.join(voc_copy, 'JPEGImages', '2009_000010.jpg')))
    res['num_classes'] = 20
    with pytest.raises(WSSSInputError, match=r'2009_000010\.npz.*unknown class id.*30'):
        _transform(voc_copy, cam_dir=d, cam_format='npz')(res)


def test_pickled_store_needs_allow_pickle(voc_copy):
    d = osp.join(voc_copy, 'eps_npy')
    os.makedirs(d)
    np.save(osp.join(d, '2007_000039.npy'), {19: np.full((40, 56), 0.7, np.float32)})
    with pytest.raises(WSSSInputError, match=r'2007_000039\.npy.*allow_pickle'):
        _run(voc_copy, '2007_000039', [19], cam_dir=d, cam_format='npy_dict')
    lab = _run(voc_copy, '2007_000039', [19], cam_dir=d, cam_format='npy_dict',
               allow_pickle=True)['gt_seg_map']
    assert set(np.unique(lab)) <= {0, 20}


# --- hostile input (issue 12) ----------------------------------------------------------------

def test_transform_after_a_resize_is_an_error(voc_root):
    """Fails before the fix: the label was built at ori_shape, the image resized."""
    from mmcv.transforms import Resize
    res = LoadImageFromFile()(dict(img_path=osp.join(voc_root, 'JPEGImages',
                                                     '2007_000032.jpg')))
    res = Resize(scale_factor=0.5, keep_ratio=True)(res)
    with pytest.raises(WSSSInputError, match=r'2007_000032.*right after LoadImageFromFile'):
        _transform(voc_root)(dict(res, cls_labels=np.array([0, 14])))


def test_load_annotations_after_the_transform_is_refused(voc_root):
    """Fails before the fix: mmseg's stock pipeline with LoadAnnotations after the
    transform silently trained on GT."""
    from mmengine.config import Config

    from mmwsss.config import check_label_overwrite
    stock = [dict(type='LoadImageFromFile'),
             dict(type='SaliencyPseudoLabel', cam_dir='x', sal_dir='y'),
             dict(type='LoadAnnotations'), dict(type='PackSegInputs')]
    cfg = Config(dict(train_dataloader=dict(dataset=dict(type='PascalVOCDataset',
                                                         pipeline=stock))))
    with pytest.raises(ValueError, match=r'replaces every pseudo label.*train_dataloader\.'
                                         r'dataset\.pipeline'):
        check_label_overwrite(cfg)
    with pytest.raises(ValueError, match='has LoadAnnotations: it would replace'):
        DATASETS.build(dict(
            type='VOCWSSSDataset', data_root=voc_root, pseudo_labels=True,
            ann_file='ImageSets/Segmentation/train_aug.txt',
            cls_label_file='cls_labels/train_aug.txt', pseudo_label_cfg=dict(tau=0.1),
            pipeline=[dict(type='LoadImageFromFile'), dict(type='LoadAnnotations')]))
    check_label_overwrite(Config(dict(train_dataloader=dict(dataset=dict(
        pipeline=[stock[0], stock[1], stock[3]])))))  # the right pipeline passes


def test_exif_rotated_image_is_refused_naming_the_file(voc_copy):
    """Fails before the fix: LoadImageFromFile rotated the image, the maps were not
    (a square image trained on a rotated label; a non-square one failed on sizes)."""
    from PIL import Image as PILImage
    path = osp.join(voc_copy, 'JPEGImages', '2007_000032.jpg')
    img = PILImage.open(path)
    exif = img.getexif()
    exif[0x0112] = 6  # rotate 90° when displayed
    img.save(path, exif=exif.tobytes())
    res = LoadImageFromFile()(dict(img_path=path))
    with pytest.raises(WSSSInputError, match=r'2007_000032.*2007_000032.jpg.*EXIF orientation'):
        _transform(voc_copy)(dict(res, cls_labels=np.array([0, 14])))


def test_ignore_index_that_is_a_class_label_is_refused(voc_root):
    """Fails before the fix: with 20 classes, ignore_index=15 trained its ignored pixels
    as label 15 ("person") in silence; a transform ignore_index other than the head's 255
    crashed deep in torch ('Target 250 is out of bounds')."""
    from mmengine.config import Config

    from mmwsss.config import check_label_overwrite
    res = LoadImageFromFile()(dict(img_path=osp.join(voc_root, 'JPEGImages',
                                                     '2007_000032.jpg')))
    res.update(cls_labels=np.array([0, 14]), num_classes=20)
    with pytest.raises(ValueError, match=r"'2007_000032'.*ignore_index=15 is a label.*"
                                         r'20 classes: labels 0\.\.20'):
        _transform(voc_root, ignore_index=15)(dict(res))
    with pytest.raises(ValueError, match='ignore_index=20 is a label'):
        _transform(voc_root, ignore_index=20)(dict(res))
    assert _transform(voc_root, ignore_index=21)(dict(res))['gt_seg_map'].max() <= 21

    def cfg(step_ignore, head_ignore=None, aux=None, data_ignore=None):
        ds = dict(type='VOCWSSSDataset', pseudo_labels=True,
                  pseudo_label_cfg=dict(tau=0.1, ignore_index=step_ignore))
        if data_ignore is not None:
            ds['ignore_index'] = data_ignore
        head = dict(type='FCNHead', num_classes=21)
        if head_ignore is not None:
            head['ignore_index'] = head_ignore
        return Config(dict(train_dataloader=dict(dataset=ds), model=dict(
            type='EncoderDecoder', decode_head=head, auxiliary_head=aux)))

    with pytest.raises(ValueError, match=r'pseudo_label_cfg\.ignore_index = 15 is a class '
                                         r'label \(model\.decode_head\.num_classes = 21'):
        check_label_overwrite(cfg(15, 15))
    with pytest.raises(ValueError, match=r'one value.*pseudo_label_cfg\.ignore_index = 250, '
                                         r'model\.decode_head\.ignore_index = 255'):
        check_label_overwrite(cfg(250))
    with pytest.raises(ValueError, match=r'dataset\.ignore_index = 250'):
        check_label_overwrite(cfg(255, data_ignore=250))
    with pytest.raises(ValueError, match=r'model\.auxiliary_head\.0\.ignore_index = 250'):
        check_label_overwrite(cfg(255, aux=[dict(type='FCNHead', num_classes=21,
                                                 ignore_index=250)]))
    knet = cfg(250)
    knet.model.decode_head = dict(type='IterativeDecodeHead', kernel_generate_head=dict(
        type='UPerHead', num_classes=21, ignore_index=250))
    check_label_overwrite(knet)  # K-Net: the generating head's ignore index
    check_label_overwrite(cfg(250, 250))
    check_label_overwrite(cfg(255))


def test_exif_orientation_fast_path_keeps_the_verdicts(tmp_path):
    """check_upright skips PIL for a JPEG without an APP1 segment (issue 22:
    0.1 ms an image); an EXIF tag, an XMP orientation, a PNG and a damaged
    JPEG get the same verdicts as PIL's."""
    from PIL import Image

    from mmwsss.fileio.png import _jpeg_without_app1, exif_orientation
    img = Image.fromarray(np.zeros((8, 12, 3), np.uint8))
    plain, tagged, xmp = tmp_path / 'plain.jpg', tmp_path / 'tagged.jpg', tmp_path / 'xmp.jpg'
    img.save(plain)
    exif = img.getexif()
    exif[0x0112] = 6
    img.save(tagged, exif=exif.tobytes())
    img.save(xmp, xmp=b'<x:xmpmeta><rdf:Description tiff:Orientation="8"/></x:xmpmeta>')
    assert _jpeg_without_app1(plain.read_bytes())
    assert not _jpeg_without_app1(tagged.read_bytes())
    assert not _jpeg_without_app1(xmp.read_bytes())
    for path in (plain, tagged, xmp):
        with Image.open(path) as im:
            assert exif_orientation(str(path)) == int(im.getexif().get(0x0112, 1) or 1)
    assert exif_orientation(str(tagged)) == 6
    png = tmp_path / 'a.png'
    img.save(png)
    assert not _jpeg_without_app1(png.read_bytes()) and exif_orientation(str(png)) == 1
    (tmp_path / 'cut.jpg').write_bytes(tagged.read_bytes()[:30])
    assert exif_orientation(str(tmp_path / 'cut.jpg')) == 1
