"""Issue 31, class 3: the packed store agrees with itself everywhere. A sparse
file is refused before its payload is allocated; a saliency folder beside a
pack is a config error naming the key and the fix; pack_maps never packs into
another store's folder; a pack records what it was made from, so that a rerun
repacks what changed and the readers say a pack is stale. Issue 32: a
compressed pack that is damaged, truncated or a decompression bomb is refused
with the file named, never decoded into other maps."""
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
from mmwsss.fileio.cam_store import CAMStore
from mmwsss.fileio.packed_maps import _BOX, _FIXED, _header_size, pack_header, read_packed, \
    save_packed
from mmwsss.outputs import guard_output_dir
from mmwsss.preflight.data import check_data_report
from mmwsss.testing import make_stride8_maps, make_voc_like_data
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


def _v2(classes, h, w, boxes, stream, codec=1, flags=1):
    """A version 2 file from its parts (boxes: (fill, y0, y1, x0, x1) per map)."""
    n = len(boxes)
    table = np.array([(f, 0, y0, y1, x0, x1) for f, y0, y1, x0, x1 in boxes], _BOX)
    head = _FIXED.pack(b'WSSSMAPS', 2, flags, h, w, len(classes), codec,
                       _header_size(len(classes), n), len(stream))
    head += np.asarray(classes, '<u2').tobytes() + table.tobytes()
    return head + bytes(_header_size(len(classes), n) - len(head)) + stream


@pytest.mark.parametrize('codec', ['lz4', 'zlib', 'lzma', 'bz2'])
def test_a_damaged_compressed_pack_is_refused_naming_the_file(tmp_path, codec):
    """Every damage is a WSSSInputError naming the image and the file, raised
    before any map is returned: no codec exception escapes, no wrong map."""
    cams, sal = make_stride8_maps(np.random.default_rng(0), 40, 48, 2)
    good = str(tmp_path / 'good.maps')
    save_packed(good, [3, 7], cams, sal, codec)
    header, maps = read_packed(good)
    np.testing.assert_array_equal(maps, np.concatenate([sal[None], cams]))
    data = open(good, 'rb').read()
    mid = header.offset + header.size // 2
    bad = {
        'does not decompress|decompresses to': data[:mid] + bytes([data[mid] ^ 0x55]) +
        data[mid + 1:],
        'truncated': data[:-7],
        'longer than its header says': data + b'\0',
        # the header claims 7 bytes fewer: the stream ends early
        'ends early|does not decompress': data[:28] + (header.size - 7).to_bytes(8, 'little') +
        data[36:-7],
        'unknown flags .* codec 9': data[:22] + (9).to_bytes(2, 'little') + data[24:],
        'version 3': data[:8] + (3).to_bytes(2, 'little') + data[10:],
    }
    if codec == 'lz4':
        # the block's last byte is a literal: without a check it decodes to a map of
        # the right size and a wrong value (a bz2 stream's last bits are padding)
        bad['CRC-32 does not match'] = data[:-1] + bytes([data[-1] ^ 0x01])
    store = CAMStore(str(tmp_path), 'packed')
    for msg, blob in bad.items():
        path = tmp_path / 'x.maps'
        path.write_bytes(blob)
        with pytest.raises(WSSSInputError, match=msg) as e:
            store.load_maps('x', [3, 7], (40, 48))
        assert "image 'x'" in str(e.value) and str(path) in str(e.value), msg


def test_a_compressed_pack_never_inflates_past_its_header(tmp_path):
    """A decompression bomb: a stream that inflates to more bytes than the box
    table declares stops at one byte more; a table that declares far more than
    the stream could hold is refused before anything is allocated."""
    import tracemalloc
    import zlib
    path = tmp_path / 'x.maps'
    path.write_bytes(_v2([0], 256, 256, [(0, 0, 256, 0, 256), (0, 0, 256, 0, 256)],
                         zlib.compress(bytes(1 << 26))))  # 64 MiB of zeros for 128 KiB
    tracemalloc.start()
    try:
        with pytest.raises(WSSSInputError, match='more bytes than the 131072 its box table') as e:
            read_packed(str(path), 'x')
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert str(path) in str(e.value) and peak < 4 << 20  # never the 64 MiB
    # 16 full 8192×8192 maps (1 GiB) declared over a 20-byte stream
    path.write_bytes(_v2(list(range(15)), 8192, 8192, [(0, 0, 8192, 0, 8192)] * 16,
                         zlib.compress(bytes(16))))
    with pytest.raises(WSSSInputError, match='decompression bomb'):
        read_packed(str(path), 'x')
    # more compressed bytes than the maps could ever take (a sparse or padded file)
    path.write_bytes(_v2([0], 8, 8, [(0, 0, 8, 0, 8), (0, 0, 8, 0, 8)], bytes(8000)))
    with pytest.raises(WSSSInputError, match='8000 compressed bytes for 128 bytes of maps'):
        read_packed(str(path), 'x')
    # a box outside the map
    path.write_bytes(_v2([0], 8, 8, [(0, 0, 8, 0, 8), (0, 2, 9, 0, 8)], zlib.compress(bytes(120))))
    with pytest.raises(WSSSInputError, match=r'map 1 has the box rows 2:9, columns 0:8 in 8×8'):
        read_packed(str(path), 'x')
    # a well-formed hand-made file reads back: fill outside the box, rows as differences
    rows = np.array([[1, 2], [1, 1]], np.uint8)  # row 1 = row 0 + [1, 1]
    path.write_bytes(_v2([0], 3, 4, [(9, 1, 3, 2, 4)], zlib.compress(rows.tobytes()), flags=0))
    np.testing.assert_array_equal(read_packed(str(path))[1][0],
                                  [[9, 9, 9, 9], [9, 9, 1, 2], [9, 9, 2, 3]])
