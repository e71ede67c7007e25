"""Issue 31, class 3: the packed store agrees with itself everywhere. A sparse
file is refused before its payload is allocated; a saliency folder beside a
pack is a config error naming the key and the fix; pack_maps never packs into
another store's folder; a pack records what it was made from, so that a rerun
repacks what changed and the readers say a pack is stale."""
import os
import os.path as osp
import shutil

import numpy as np
import pytest

from mmwsss.config import load_config
from mmwsss.datasets.transforms.pseudo_label import SaliencyPseudoLabel
from mmwsss.errors import WSSSConfigError, WSSSInputError
from mmwsss.fileio import read_label_png, save_label_png
from mmwsss.fileio.cam_store import pack_saliency_problem, stale_packs
from mmwsss.fileio.packed_maps import pack_header, read_packed
from mmwsss.outputs import guard_output_dir
from mmwsss.preflight.data import check_data_report
from mmwsss.testing import make_voc_like_data
from tests.utils import load_tool

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
LEAF = osp.join(ROOT, 'configs', 'wsss', 'deeplabv2_r101-d8_2xb10-10k_voc12aug-321x321_cam-vst.py')
pack_maps = load_tool('pack_maps')


def test_a_sparse_pack_is_refused_before_its_payload_is_allocated(tmp_path):
    """Fails before the fix: 4 KiB on disk, 272 MiB allocated and read as zeros."""
    path = str(tmp_path / 'x.maps')
    head = pack_header((4096, 4096), range(16), True)
    with open(path, 'wb') as f:
        f.write(head)
        f.truncate(len(head) + 17 * 4096 * 4096)
    if os.stat(path).st_blocks * 512 >= 17 * 4096 * 4096 // 2:
        pytest.skip('this file system stores no sparse files')
    with pytest.raises(WSSSInputError, match='sparse file') as e:
        read_packed(path, 'x')
    assert "image 'x'" in str(e.value) and path in str(e.value)


def test_a_saliency_folder_beside_a_pack_is_a_config_error(tmp_path):
    """Fails before the fix: a bare ValueError, not a user error with the fix."""
    with pytest.raises(WSSSConfigError, match=r'sal_dir must be None.*remove sal_dir'):
        SaliencyPseudoLabel(str(tmp_path), str(tmp_path / 'sal'), cam_format='packed')


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('voc'))
    return make_voc_like_data(root, num_images=3, size=(12, 16))


def _pack(d, out, *extra):
    return pack_maps.main(['--cam-dir', osp.join(d.root, d.cam_path), '--sal-dir',
                           osp.join(d.root, d.sal_path), '--cls-label-file',
                           osp.join(d.root, d.cls_label_file), '--out-dir', out, *extra])


@pytest.mark.parametrize('force', [False, True])
def test_pack_maps_never_packs_into_another_store(data, tmp_path, force):
    """Fails before the fix: --force replaced a make_cams store's meta.json
    (and its checkpoint record); a WSSS-BED PNG folder took the packs."""
    cams = str(tmp_path / 'cams')
    guard_output_dir(cams, dict(checkpoint=dict(path='/ckpt.pth', size=1), cam_format='npz'))
    before = open(osp.join(cams, 'meta.json')).read()
    with pytest.raises(SystemExit, match=r'holds a npz CAM store.*another folder'):
        _pack(data, cams, *(['--force'] if force else []))
    assert open(osp.join(cams, 'meta.json')).read() == before
    bed = tmp_path / 'bed'
    bed.mkdir()
    (bed / '2007_000032_0.png').write_bytes(b'')
    with pytest.raises(SystemExit, match=r'1 map file\(s\) of another store'):
        _pack(data, str(bed), *(['--force'] if force else []))
    assert sorted(os.listdir(bed)) == ['2007_000032_0.png']


def test_a_pack_made_from_changed_maps_is_stale_and_repacked(tmp_path, capsys):
    """Fails before the fix: after a saliency map changed, the readers used the
    old pack in silence and a rerun said '0 images packed, 4 kept'."""
    voc = osp.join(ROOT, 'tests', 'data', 'voc')
    cams, sal = str(tmp_path / 'cams'), str(tmp_path / 'sal')
    shutil.copytree(osp.join(voc, 'activation_maps', 'VOC2012_TEST'), cams)
    shutil.copytree(osp.join(voc, 'saliency_maps', 'VOC2012_TEST'), sal)
    out = str(tmp_path / 'packed')
    args = ['--cam-dir', cams, '--sal-dir', sal, '--cls-label-file',
            osp.join(voc, 'cls_labels', 'train_aug.txt'), '--out-dir', out]
    pack_maps.main(args)
    img_id = '2007_000032'
    png = osp.join(sal, img_id + '.png')
    new = 255 - read_label_png(png, img_id, 'saliency map')
    save_label_png(png, new)
    os.utime(png, ns=(1, 1))  # a new mtime even on a coarse clock
    evaluate = load_tool('eval_pseudo_labels')
    cfg = osp.join(ROOT, 'tests', 'configs', 'eps_tiny_voc.py')
    with pytest.raises(WSSSInputError, match=rf'(?s)1 pack\(s\) are stale.*{img_id} \('):
        evaluate.main([cfg, '--cam-dir', out, '--out-dir', str(tmp_path / 'sweep'),
                       '--taus', '0.5'])
    opts = {'train_dataloader.dataset.data_root': voc,
            'train_dataloader.dataset.maps_root': voc,
            'train_dataloader.dataset.data_prefix.cam_path': out,
            'train_dataloader.dataset.pseudo_label_cfg.cam_format': 'packed'}
    lines = check_data_report(load_config(LEAF, opts), ('train_dataloader', )).problems
    assert len(lines) == 1 and 'are stale' in lines[0] and png in lines[0], lines
    capsys.readouterr()
    pack_maps.main(args)
    assert '1 images packed' in capsys.readouterr().out
    header, maps = read_packed(osp.join(out, img_id + '.maps'))
    np.testing.assert_array_equal(maps[0], new)
    assert stale_packs(out) == []


def test_one_rule_decides_a_packs_saliency_in_every_tool(tmp_path, capsys):
    """Fails before the fix: browse_pseudo_labels failed at its first image with
    another message, and each tool worded its own rule."""
    voc = osp.join(ROOT, 'tests', 'data', 'voc')
    out = str(tmp_path / 'nosal')
    pack_maps.main(['--cam-dir', osp.join(voc, 'activation_maps', 'VOC2012_TEST'),
                    '--cls-label-file', osp.join(voc, 'cls_labels', 'train_aug.txt'),
                    '--out-dir', out])
    want = pack_saliency_problem(out)
    assert want and 'holds no saliency maps' in want and '--sal-dir' in want
    opts = {'train_dataloader.dataset.data_root': voc,
            'train_dataloader.dataset.maps_root': voc,
            'train_dataloader.dataset.data_prefix.cam_path': out,
            'train_dataloader.dataset.pseudo_label_cfg.cam_format': 'packed'}
    lines = check_data_report(load_config(LEAF, opts), ('train_dataloader', )).problems
    assert len(lines) == 1 and want in lines[0], lines
    with pytest.raises(SystemExit) as e:
        load_tool('browse_pseudo_labels').main(
            [LEAF, '--out-dir', str(tmp_path / 'fig'), '--cfg-options',
             *(f'{k}={v}' for k, v in opts.items())])
    assert str(e.value) == want
    capsys.readouterr()
    with pytest.raises(SystemExit):
        load_tool('eval_pseudo_labels').parse_args(
            [osp.join(ROOT, 'tests', 'configs', 'eps_tiny_voc.py'), '--cam-dir', out,
             '--out-dir', str(tmp_path / 'sweep')])
    assert want in capsys.readouterr().err.replace('\n', ' ').replace('  ', ' ')
