"""Issue 31, class 3: the packed store agrees with itself everywhere. A sparse
file is refused before its payload is allocated; a saliency folder beside a
pack is a config error naming the key and the fix; pack_maps never packs into
another store's folder; a pack records what it was made from, so that a rerun
repacks what changed and the readers say a pack is stale."""
import os
import os.path as osp

import pytest

from mmwsss.datasets.transforms.pseudo_label import SaliencyPseudoLabel
from mmwsss.errors import WSSSConfigError, WSSSInputError
from mmwsss.fileio.packed_maps import pack_header, read_packed
from mmwsss.testing import make_voc_like_data
from mmwsss.utils.outputs import guard_output_dir
from tests.utils import load_tool

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
