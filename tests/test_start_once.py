"""Where users train: a config of one's own on the mmwsss scope runs through our tools
and mmseg's; start-up work runs once per job (data checks, derived labels), and what
goes wrong is said once."""
import glob
import json
import os
import os.path as osp
import subprocess
import sys

import pytest

from mmwsss.datasets import COCOWSSSDataset, VOCWSSSDataset
from .test_dist_train import cpu_env

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
TOOLS = osp.join(ROOT, 'tools')
CFG = osp.join(ROOT, 'tests', 'configs', 'seg_tiny_deeplabv2_voc.py')

# A config of one's own, as a user writes it: our leaf by scope, shrunk to the
# fixture (ResNet-18 with 8 base channels; the recipe's crop and pipeline kept).
USER_CFG = """_base_ = 'mmwsss::wsss/deeplabv2_r101-d8_2xb10-10k_voc12aug-321x321_eps-vst.py'
data_root = {root!r}
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(pretrained=None,
             backbone=dict(depth=18, stem_channels=16, base_channels=8, norm_cfg=norm_cfg),
             decode_head=dict(in_channels=64, norm_cfg=norm_cfg))
loader = dict(batch_size=1, num_workers=0, persistent_workers=False)
train_dataloader = dict(
    **loader,
    dataset=dict(data_root=data_root, maps_root=data_root,
                 data_prefix=dict(cam_path='activation_maps/VOC2012_TEST')))
val_dataloader = dict(**loader, dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
train_cfg = dict(max_iters=1, val_interval=1)
param_scheduler = [dict(type='PolyLR', power=0.9, begin=0, end=1, by_epoch=False)]
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=1))
"""


def _run(cmd, env=None, ok=True):
    p = subprocess.run(cmd, cwd=ROOT, env=env or cpu_env(), capture_output=True, text=True,
                       timeout=300)
    out = p.stdout + p.stderr
    if ok:
        assert p.returncode == 0, out[-4000:]
    return p.returncode, out


def test_own_config_on_the_mmwsss_scope_trains_validates_and_tests(tmp_path, voc_root):
    """Fails before the fix: 'IoUMetric is not in the mmwsss::metric registry' (the
    mmwsss children never imported mmseg's modules), in our train.py and test.py."""
    user = tmp_path / 'my_deeplabv2.py'
    user.write_text(USER_CFG.format(root=voc_root))
    work = tmp_path / 'work'
    _, out = _run([sys.executable, osp.join(TOOLS, 'train.py'), str(user),
                   '--work-dir', str(work)])
    assert 'mIoU' in out and (work / 'iter_1.pth').is_file()
    _, out = _run([sys.executable, osp.join(TOOLS, 'test.py'), str(user),
                   str(work / 'iter_1.pth'), '--work-dir', str(work)])
    assert 'mIoU' in out
    # mmseg's own tools/train.py, started through `python -m mmwsss`
    import mmseg
    mmseg_train = osp.join(osp.dirname(mmseg.__file__), '.mim', 'tools', 'train.py')
    work2 = tmp_path / 'work_mmseg'
    _, out = _run([sys.executable, '-m', 'mmwsss', mmseg_train, str(user),
                   '--work-dir', str(work2)])
    assert 'mIoU' in out and (work2 / 'iter_1.pth').is_file()
    # without it, mmengine cannot resolve the scope (what the README's line fixes)
    code, out = _run([sys.executable, mmseg_train, str(user), '--work-dir', str(work2)],
                     ok=False)
    assert code != 0 and 'mmwsss' in out


def _count_cache(folder):
    return sorted(glob.glob(osp.join(folder, '.mmwsss_cache', '*.json')))


def test_labels_derived_from_gt_are_built_once_and_cached(voc_copy, monkeypatch):
    """Fails before the fix: every rank of every run decoded every GT mask again."""
    import mmwsss.datasets.base as base
    kw = dict(data_root=voc_copy, ann_file='ImageSets/Segmentation/train_aug.txt',
              data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClassAug'),
              pseudo_labels=True)
    first = VOCWSSSDataset(**kw)
    lists = osp.join(voc_copy, 'ImageSets', 'Segmentation')
    assert len(_count_cache(lists)) == 1
    reads = []
    real = base.read_label_png
    monkeypatch.setattr(base, 'read_label_png', lambda *a: reads.append(a) or real(*a))
    second = VOCWSSSDataset(**kw)
    assert reads == []  # from the cache: no mask decoded
    assert [list(i['cls_labels']) for i in first] == [list(i['cls_labels']) for i in second]
    # a mask that changed is a new key: labels rebuilt, never stale
    from PIL import Image
    img_id = first.get_data_info(0)['img_id']
    mask = osp.join(voc_copy, 'SegmentationClassAug', img_id + '.png')
    Image.new('L', Image.open(mask).size, 0).save(mask)  # all background now
    third = VOCWSSSDataset(**kw)
    assert len(reads) == len(first)
    assert list(third.get_data_info(0)['cls_labels']) == []
    assert len(_count_cache(lists)) == 2


@pytest.mark.parametrize('labels', [{'X': [25]}, {'X': ['14']}, {'X': [1.5]}, {'X': 14},
                                    [[0, 14]], {'X': [True]}, {'X': [-1]}, 'one id less'])
def test_a_cache_of_another_shape_or_with_unknown_class_ids_is_built_again(labels, voc_copy):
    """Fails before the fix: the cache was used as read: class ids 25 (of 20) and -1
    reached training, 1.5 and true became class 1, a list or a bare number in place of
    the id lists gave a TypeError."""
    kw = dict(data_root=voc_copy, ann_file='ImageSets/Segmentation/train_aug.txt',
              data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClassAug'),
              pseudo_labels=True)
    first = VOCWSSSDataset(**kw)
    want = {i['img_id']: [int(c) for c in i['cls_labels']] for i in first}
    cache, = _count_cache(osp.join(voc_copy, 'ImageSets', 'Segmentation'))
    damaged = {img_id: ids for img_id, ids in want.items()}
    if labels == 'one id less':  # fails before the fix: that image 'has no labels'
        del damaged[next(iter(want))]
    elif isinstance(labels, dict):
        damaged.update({next(iter(want)): labels['X']})
    else:
        damaged = labels
    with open(cache, 'w') as f:
        json.dump(dict(labels=damaged), f)
    again = VOCWSSSDataset(**kw)
    assert {i['img_id']: [int(c) for c in i['cls_labels']] for i in again} == want
    assert json.load(open(cache))['labels'] == want  # rewritten


VOC_KW = dict(ann_file='ImageSets/Segmentation/train_aug.txt',
              data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClassAug'),
              pseudo_labels=True)


def test_a_mask_rewritten_with_the_same_size_and_mtime_is_not_read_from_the_cache(voc_copy):
    """Fails before the fix: the key was each mask's size and mtime, so the labels of
    the mask as it was came back from the cache."""
    from PIL import Image
    first = VOCWSSSDataset(data_root=voc_copy, **VOC_KW)
    img_id = first.get_data_info(0)['img_id']
    mask = osp.join(voc_copy, 'SegmentationClassAug', img_id + '.png')
    size = Image.open(mask).size
    Image.new('L', size, 1).save(mask)  # all aeroplane
    assert list(VOCWSSSDataset(data_root=voc_copy, **VOC_KW)
                .get_data_info(0)['cls_labels']) == [0]
    st = os.stat(mask)
    Image.new('L', size, 2).save(mask)  # all bicycle: same bytes count, mtime put back
    os.utime(mask, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert os.stat(mask).st_size == st.st_size
    assert list(VOCWSSSDataset(data_root=voc_copy, **VOC_KW)
                .get_data_info(0)['cls_labels']) == [1]


@pytest.fixture
def cache_log(monkeypatch):
    """The label cache's log lines (mmengine's logger writes past capsys)."""
    import mmwsss.fileio.label_cache as lc
    lines = []
    monkeypatch.setattr(lc, '_log', lambda msg, level=None: lines.append(msg), raising=False)
    return lines


@pytest.mark.parametrize('damage', ['deep', 'folder', 'fifo'])
def test_a_cache_of_the_wrong_type_is_ignored_and_built_again(damage, voc_copy, cache_log):
    """Fails before the fix: a deeply nested json gave a RecursionError, a folder in
    the cache's place an IsADirectoryError, a FIFO a hang."""
    first = VOCWSSSDataset(data_root=voc_copy, **VOC_KW)
    want = [list(i['cls_labels']) for i in first]
    cache, = _count_cache(osp.join(voc_copy, 'ImageSets', 'Segmentation'))
    os.remove(cache)
    if damage == 'deep':
        with open(cache, 'w') as f:
            f.write('{"labels": ' + '[' * 100000 + ']' * 100000 + '}')
    elif damage == 'folder':
        os.mkdir(cache)
    else:
        os.mkfifo(cache)
    again = VOCWSSSDataset(data_root=voc_copy, **VOC_KW)
    assert [list(i['cls_labels']) for i in again] == want
    assert any('ignored' in m or 'not written' in m for m in cache_log), cache_log
    if damage != 'folder':
        assert json.load(open(cache))['labels']  # rebuilt in its place


def test_no_writable_cache_folder_leaves_the_labels_uncached(voc_copy, tmp_path,
                                                             monkeypatch, cache_log):
    """Fails before the fix: read-only data and $HOME failed the build (the cache
    is optional)."""
    import mmwsss.fileio.label_cache as lc
    blocker = tmp_path / 'home_file'
    blocker.write_text('')  # $HOME's cache folder cannot be made under a file
    monkeypatch.setattr(lc, 'FALLBACK_DIR', str(blocker / 'labels'))
    real_access = os.access
    monkeypatch.setattr(lc.os, 'access', lambda p, m: False if '.mmwsss_cache' in p
                        else real_access(p, m))  # a read-only data mount (we are root)
    ds = VOCWSSSDataset(data_root=voc_copy, **VOC_KW)
    assert len(ds) and all('cls_labels' in i for i in ds)
    assert any('not written' in m for m in cache_log), cache_log
    assert _count_cache(osp.join(voc_copy, 'ImageSets', 'Segmentation')) == []


def test_coco_instances_are_parsed_once_and_cached(tmp_path, coco_root, monkeypatch):
    import shutil
    ann = tmp_path / 'instances_train2014.json'
    src = glob.glob(osp.join(coco_root, 'annotations', 'instances_train2014.json'))[0]
    shutil.copy(src, ann)
    kw = dict(data_root=coco_root, ann_file=str(ann), pseudo_labels=True,
              data_prefix=dict(img_path='train2014'))
    first = COCOWSSSDataset(**kw)
    assert len(_count_cache(str(tmp_path))) == 1
    import pycocotools.coco

    def refuse(*a, **k):
        raise AssertionError('the json was parsed again')

    monkeypatch.setattr(pycocotools.coco, 'COCO', refuse)
    second = COCOWSSSDataset(**kw)
    assert [i['img_path'] for i in first] == [i['img_path'] for i in second]
    # another json (one more image-level label gone) is another key
    data = json.loads(ann.read_text())
    data['annotations'] = data['annotations'][1:]
    ann.write_text(json.dumps(data))
    with pytest.raises(AssertionError, match='parsed again'):
        COCOWSSSDataset(**kw)


def test_a_missing_data_error_is_said_once(tmp_path):
    """Fails before the fix: each rank printed the error, then torchrun its failure
    report for every rank. dist_train.sh checks once, before the ranks start; under a
    plain torchrun, rank 0 alone says it."""
    env = cpu_env()
    opts = ['--cfg-options', 'train_dataloader.dataset.data_root=/no/such/voc']
    code, out = _run(['bash', osp.join(TOOLS, 'dist_train.sh'), CFG, '2',
                      '--work-dir', str(tmp_path / 'w')] + opts, env=env, ok=False)
    assert code != 0
    assert out.count('/no/such/voc') == 1 and 'Preparing the data' in out
    assert 'ChildFailedError' not in out and len(out.splitlines()) < 15, out
    code, out = _run([sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node=2',
                      f'--master_port={env["PORT"]}', osp.join(TOOLS, 'train.py'), CFG,
                      '--launcher', 'pytorch', '--work-dir', str(tmp_path / 'w')] + opts,
                     env=env, ok=False)
    assert code != 0 and out.count('/no/such/voc') == 1, out
