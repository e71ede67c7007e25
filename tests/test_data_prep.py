"""The "Preparing the data" block of docs/data_preparation.md, run as it stands on the fixtures.

The test plays the downloads (the one part that needs a network): it lays the
fixtures out as the README's download step leaves them, VOC 2012 and SBD under
``data/VOCdevkit``, COCO 2014 under ``data/coco2014``, a WSSS-BED clone with its
list and the maps of a few keys beside ``data/``. Then it runs the README's
conversion block with bash, from a copy of the repository root (its ``tools``,
``configs`` and ``mmwsss`` linked), and checks what the configs then read.

mmseg's ``voc_aug.py`` (run from the installed mmseg, as the README says) asserts
the real SBD's 10,582 training ids, so SBD's lists are padded with made-up ids,
each with an image and an image-level label (not an SBD mask: 10,578 more .mat
files would only slow the test); the fixture's six images carry the values
checked.
"""
import os
import os.path as osp
import re
import shutil
import subprocess
import sys

import numpy as np

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
VOC = osp.join(REPO, 'tests', 'data', 'voc')
COCO = osp.join(REPO, 'tests', 'data', 'coco')
MARK = '<!-- tests/test_data_prep.py runs the next block as it stands -->'
AUG_LEN = 10582  # the count mmseg's voc_aug.py asserts
VOC_TRAIN = ['2007_000032', '2008_000002']
VOC_VAL = ['2007_000033', '2010_000001']
SBD_ONLY = ['2007_000039', '2009_000010']  # the fixture's train_aug beyond VOC's train


def readme_block() -> str:
    text = open(osp.join(REPO, 'docs', 'data_preparation.md'), encoding='utf-8').read()
    m = re.search(re.escape(MARK) + r'\s*```bash\n(.*?)```', text, re.S)
    assert m, f'docs/data_preparation.md has no ```bash block after {MARK!r}'
    return m.group(1)


def _mask(img_id):
    from mmwsss.fileio import read_label_png
    return read_label_png(osp.join(VOC, 'SegmentationClassAug', img_id + '.png'))


def _write_png(path, arr):
    import cv2
    assert cv2.imwrite(path, arr)


def _downloads(root):
    """What the README's download step leaves, from the fixtures."""
    from scipy.io import savemat
    voc = osp.join(root, 'data', 'VOCdevkit', 'VOC2012')
    os.makedirs(osp.join(voc, 'ImageSets', 'Segmentation'))
    shutil.copytree(osp.join(VOC, 'JPEGImages'), osp.join(voc, 'JPEGImages'))
    os.makedirs(osp.join(voc, 'SegmentationClass'))
    for img_id in VOC_TRAIN + VOC_VAL:  # VOC's own masks (palette PNGs)
        shutil.copy(osp.join(VOC, 'SegmentationClassAug', img_id + '.png'),
                    osp.join(voc, 'SegmentationClass'))
    for split, ids in (('train', VOC_TRAIN), ('val', VOC_VAL)):
        with open(osp.join(voc, 'ImageSets', 'Segmentation', split + '.txt'), 'w') as f:
            f.write('\n'.join(ids) + '\n')

    # SBD (benchmark_RELEASE moved to VOCaug): its masks have no 255; the val
    # image's differs from VOC's, which is the one validation must read
    sbd = osp.join(root, 'data', 'VOCdevkit', 'VOCaug', 'dataset')
    os.makedirs(osp.join(sbd, 'cls'))
    pad = [f'2011_{i:06d}' for i in range(AUG_LEN - len(VOC_TRAIN) - len(SBD_ONLY))]
    sbd_masks = {i: np.where(_mask(i) == 255, 0, _mask(i)) for i in VOC_TRAIN + SBD_ONLY}
    sbd_masks['2007_000033'] = np.zeros_like(_mask('2007_000033'))
    for img_id, mask in sbd_masks.items():
        savemat(osp.join(sbd, 'cls', img_id + '.mat'),
                {'GTcls': {'Segmentation': mask, 'CategoriesPresent': np.array([])}})
    with open(osp.join(sbd, 'train.txt'), 'w') as f:
        f.write('\n'.join(VOC_TRAIN + SBD_ONLY + pad[:8000]) + '\n')
    with open(osp.join(sbd, 'val.txt'), 'w') as f:
        f.write('\n'.join(['2007_000033'] + pad[8000:]) + '\n')
    jpg = open(osp.join(VOC, 'JPEGImages', '2007_000032.jpg'), 'rb').read()
    for img_id in pad:
        with open(osp.join(voc, 'JPEGImages', img_id + '.jpg'), 'wb') as f:
            f.write(jpg)

    # COCO 2014 as its zips unpack
    shutil.copytree(COCO, osp.join(root, 'data', 'coco2014'))

    # WSSS-BED's clone: its class list and the maps of the keys the leaves name
    bed = osp.join(root, 'WSSS-BED', 'wsss_bed')
    os.makedirs(osp.join(bed, 'data', 'voc2012'))
    with open(osp.join(bed, 'data', 'voc2012', 'train_aug_cls.txt'), 'w') as f:
        f.write(open(osp.join(VOC, 'cls_labels', 'train_aug.txt')).read())
        f.writelines(f'{i} 14\n' for i in pad)
    for kind, key in (('activation_maps', 'VOC2012_CAM'),
                      ('activation_maps', 'VOC2012_EPS_VST_DUTS'),
                      ('saliency_maps', 'VOC2012_VST_DUTS')):
        out = osp.join(bed, kind, key)
        shutil.copytree(osp.join(VOC, kind, 'VOC2012_TEST'), out)
        # check_data reads every listed id's maps: the padding ids (class 14) get
        # links to one map (of 2007_000032's size, as their JPEG)
        src = osp.join(out, '2007_000032' + ('_14.png' if kind == 'activation_maps' else '.png'))
        for img_id in pad:
            os.link(src, osp.join(out, img_id + ('_14.png' if kind == 'activation_maps'
                                                 else '.png')))
    from mmwsss.fileio import image_hw
    cams = osp.join(bed, 'activation_maps', 'COCO_EPS_VST_DUTS')
    os.makedirs(cams)
    for name in os.listdir(osp.join(COCO, 'train2014')):
        h, w = image_hw(osp.join(COCO, 'train2014', name))
        _write_png(osp.join(cams, name[:-4] + '_0.png'), np.full((h, w), 200, np.uint8))
        for c in range(1, 80):  # every class: the converter's labels are made in the block
            os.link(osp.join(cams, name[:-4] + '_0.png'), osp.join(cams, f'{name[:-4]}_{c}.png'))

    # the torch hub cache of a machine that downloaded ResNet-101 once (checked, not read)
    hub = osp.join(root, 'torch_home', 'hub', 'checkpoints')
    os.makedirs(hub)
    with open(osp.join(hub, 'resnet101-63fe2227.pth'), 'wb') as f:
        f.write(b'stand-in')


def test_readme_data_section_runs_on_the_fixtures(tmp_path, monkeypatch):
    root = str(tmp_path)
    for name in ('tools', 'configs', 'mmwsss'):  # the repository root, with data/ in it
        os.symlink(osp.join(REPO, name), osp.join(root, name))
    _downloads(root)

    env = dict(os.environ, PATH=osp.dirname(sys.executable) + os.pathsep + os.environ['PATH'],
               OMP_NUM_THREADS='1', TORCH_HOME=osp.join(root, 'torch_home'))
    res = subprocess.run(['bash', '-e', '-x', '-c', readme_block()], cwd=root, env=env,
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert res.stdout.count('.py: all there: ') == 3, res.stdout[-3000:]

    from mmwsss.fileio import read_id_list, read_label_png
    voc = osp.join(root, 'data', 'VOCdevkit', 'VOC2012')
    lst = osp.join(voc, 'ImageSets', 'Segmentation', 'train_aug.txt')
    ids = read_id_list(lst)
    assert os.path.islink(lst) and len(ids) == AUG_LEN
    assert set(VOC_TRAIN + SBD_ONLY) <= set(ids) and not set(VOC_VAL) & set(ids)
    aug = osp.join(voc, 'SegmentationClassAug')
    # SBD's five (its val image's included) and VOC's val image SBD lacks
    assert sorted(os.listdir(aug)) == sorted(i + '.png' for i in VOC_TRAIN + VOC_VAL + SBD_ONLY)
    # VOC's masks replaced SBD's (255 borders back, the val image's right);
    # the SBD-only ones are the converter's
    for img_id in VOC_TRAIN + VOC_VAL + SBD_ONLY:
        np.testing.assert_array_equal(read_label_png(osp.join(aug, img_id + '.png')),
                                      _mask(img_id))
    assert osp.isfile(osp.join(root, 'data', 'coco2014', 'cls_labels', 'train2014.txt'))
    # the COCO leaf validates on the papers' list: the val image without annotations is
    # in the full list only
    sets = osp.join(root, 'data', 'coco2014', 'ImageSets')
    papers = ['COCO_val2014_000000000042', 'COCO_val2014_000000000073']
    assert read_id_list(osp.join(sets, 'val2014_wsss.txt')) == papers
    assert read_id_list(osp.join(sets, 'val2014.txt')) == papers + ['COCO_val2014_000000003799']
    assert re.search(r'coco14-321x321_eps-vst\.py: all there: [^\n]* 2 GT masks', res.stdout)

    # what a leaf's training and validation then read, from the repository root
    monkeypatch.chdir(root)
    from mmseg.registry import DATASETS

    from mmwsss.config import load_config
    cfg = load_config(osp.join(
        root, 'configs', 'wsss', 'deeplabv2_r101-d8_2xb10-10k_voc12aug-321x321_cam-vst.py'))
    train = DATASETS.build(cfg.train_dataloader.dataset)
    assert len(train) == AUG_LEN
    i = next(k for k in range(len(train)) if train.get_data_info(k)['img_id'] == '2007_000032')
    assert train.get_data_info(i)['cls_labels'].tolist() == [0, 14]  # WSSS-BED's list
    label = train[i]['data_samples'].gt_sem_seg.data.numpy()
    assert set(np.unique(label)) - {255} <= {0, 1, 15} and {1, 15} & set(np.unique(label))
    val = DATASETS.build(cfg.val_dataloader.dataset)
    j = next(k for k in range(len(val)) if val.get_data_info(k)['img_id'] == '2007_000033')
    np.testing.assert_array_equal(val[j]['data_samples'].gt_sem_seg.data.numpy()[0],
                                  _mask('2007_000033'))
