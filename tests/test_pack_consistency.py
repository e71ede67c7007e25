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
