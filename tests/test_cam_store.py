import io
import re

import numpy as np
import pytest
from PIL import Image

from mmwsss.errors import WSSSInputError
from mmwsss.fileio import CAMStore, cams_to_unit, save_cams_bed_png, save_cams_npz


def load_cams(cam_dir, img_id, classes=None, cam_format='bed_png', allow_pickle=False):
    return CAMStore(cam_dir, cam_format, allow_pickle).load(img_id, classes)


def test_npz_roundtrip_uint8_and_float16(tmp_path):
    cams = np.random.default_rng(0).random((2, 5, 7)).astype(np.float32)
    save_cams_npz(str(tmp_path / 'a.npz'), [3, 11], cams, 'uint8')
    got, keys = load_cams(str(tmp_path), 'a', cam_format='npz')
    assert keys == [3, 11] and got.dtype == np.uint8
    np.testing.assert_array_equal(got, np.round(cams * 255).astype(np.uint8))
    save_cams_npz(str(tmp_path / 'b.npz'), [3, 11], cams, 'float16')
    got, _ = load_cams(str(tmp_path), 'b', [11], cam_format='npz')
    # float stores come back checked, as float32: exactly the stored float16 values
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got[0], cams[1].astype(np.float16).astype(np.float32))
    np.testing.assert_allclose(got[0], cams[1], atol=1e-3)
    # no stray temporary files left by the atomic write
    assert sorted(p.name for p in tmp_path.iterdir()) == ['a.npz', 'b.npz']


def test_bed_png_matches_npz_uint8(tmp_path):
    cams = np.random.default_rng(1).random((2, 4, 6)).astype(np.float32)
    save_cams_bed_png(str(tmp_path), 'img_1', [0, 14], cams)
    save_cams_npz(str(tmp_path / 'img_1.npz'), [0, 14], cams)
    a, ka = load_cams(str(tmp_path), 'img_1', cam_format='bed_png')
    b, kb = load_cams(str(tmp_path), 'img_1', cam_format='npz')
    assert ka == kb == [0, 14]
    np.testing.assert_array_equal(a, b)
    # another image whose id starts the same is not mixed in
    save_cams_bed_png(str(tmp_path), 'img_1_2', [5], cams[:1])
    assert load_cams(str(tmp_path), 'img_1', cam_format='bed_png')[1] == [0, 14]


def test_npy_dict_needs_allow_pickle(tmp_path):
    np.save(tmp_path / 'x.npy', {4: np.full((3, 3), 0.5, np.float32)})
    with pytest.raises(WSSSInputError, match=r"'x'.*x\.npy.*allow_pickle"):
        load_cams(str(tmp_path), 'x', cam_format='npy_dict')
    cams, keys = load_cams(str(tmp_path), 'x', cam_format='npy_dict', allow_pickle=True)
    assert keys == [4] and cams.shape == (1, 3, 3)
    # IRN layout: keys + high_res (with a leading background channel)
    np.save(tmp_path / 'y.npy', {'keys': np.array([2, 7]),
                                 'high_res': np.zeros((3, 2, 2), np.float32)})
    cams, keys = load_cams(str(tmp_path), 'y', cam_format='npy_dict', allow_pickle=True)
    assert keys == [2, 7] and cams.shape == (2, 2, 2)


def test_npz_with_pickled_object_is_refused(tmp_path):
    np.savez(tmp_path / 'p.npz', keys=np.array([0]), cams=np.array([{'evil': 1}], dtype=object))
    with pytest.raises(WSSSInputError, match=r'p\.npz.*pickled'):
        load_cams(str(tmp_path), 'p', cam_format='npz')


def test_missing_and_unreadable(tmp_path):
    with pytest.raises(WSSSInputError, match=r"'nope'.*nope\.npz.*not found"):
        load_cams(str(tmp_path), 'nope', cam_format='npz')
    (tmp_path / 'bad_0.png').write_bytes(b'not a png')
    with pytest.raises(WSSSInputError, match=r"'bad'.*bad_0\.png.*unreadable"):
        load_cams(str(tmp_path), 'bad', [0], cam_format='bed_png')
    Image.fromarray(np.zeros((2, 2), np.uint8)).save(tmp_path / 'c_1.png')
    with pytest.raises(WSSSInputError, match=r"\[3\] have no CAM|c_3\.png.*not found"):
        load_cams(str(tmp_path), 'c', [1, 3], cam_format='bed_png')


def test_range_and_nan_checks():
    with pytest.raises(WSSSInputError, match='NaN'):
        cams_to_unit(np.array([[[np.nan]]], np.float16), 'i', 'f.npz')
    with pytest.raises(WSSSInputError, match=r"'i'.*f\.npz.*\[0, 1\]"):
        cams_to_unit(np.array([[[1.5]]], np.float32), 'i', 'f.npz')
    assert cams_to_unit(np.array([[[255]]], np.uint8))[0, 0, 0] == 1.0


def test_load_runs_every_check(tmp_path):
    """Size, class ids and range are checked in the one load."""
    save_cams_npz(str(tmp_path / 'a.npz'), [3, 11], np.full((2, 4, 5), 0.5), 'float16')
    store = CAMStore(str(tmp_path), 'npz')
    cams, keys = store.load('a', None, (4, 5), 19)
    assert cams.dtype == np.float32 and keys == [3, 11]
    with pytest.raises(WSSSInputError, match=r"'a'.*a\.npz.*CAM is 5×4"):
        store.load('a', None, (5, 4))
    with pytest.raises(WSSSInputError, match=r'a\.npz.*unknown class id.*11.*0\.\.9'):
        store.load('a', None, None, 9)
    with pytest.raises(WSSSInputError, match=r"'a'.*unknown class id.*25"):
        store.load('a', [25], None, 19)
    # the file stem given by a dataset, in place of <cam_dir>/<img_id>
    assert CAMStore(None, 'npz').load('x', stem=str(tmp_path / 'a'))[1] == [3, 11]
    with pytest.raises(ValueError, match='cam_format'):
        CAMStore(str(tmp_path), 'png')


# --- hostile input (issue 12): each of these gave a silent wrong value before --------------

def test_16bit_png_is_refused_not_clipped(tmp_path):
    """Fails before the fix: PIL's convert('L') clipped every value > 255 to 255."""
    from mmwsss.fileio import read_saliency
    arr = np.full((5, 7), 300, np.uint16)
    arr[0, 0] = 20
    import cv2
    cv2.imwrite(str(tmp_path / 'a_3.png'), arr)  # a 16-bit gray PNG
    with pytest.raises(WSSSInputError, match=r"'a'.*a_3.png.*I;16.* PNG \(more than 8 bits\)"):
        load_cams(str(tmp_path), 'a', [3])
    cv2.imwrite(str(tmp_path / 's.png'), arr)
    with pytest.raises(WSSSInputError, match=r's.png.*more than 8 bits'):
        read_saliency(str(tmp_path / 's.png'), 's')


def test_palette_and_colour_maps_are_refused_not_converted_by_luma(tmp_path):
    """Fails before the fix: a 0/1 palette index mask or an RGB heat map became gray."""
    from mmwsss.fileio import read_saliency
    idx = Image.fromarray(np.eye(5, 7, dtype=np.uint8), mode='L').convert('P')
    idx.save(tmp_path / 'p.png')
    with pytest.raises(WSSSInputError, match='palette PNG'):
        read_saliency(str(tmp_path / 'p.png'), 'p')
    heat = np.zeros((5, 7, 3), np.uint8)
    heat[..., 0] = 255  # red: a jet colour map's hot end
    Image.fromarray(heat).save(tmp_path / 'a_3.png')
    with pytest.raises(WSSSInputError, match=r'a_3.png.*colour image \(a heat map\?\)'):
        load_cams(str(tmp_path), 'a', [3])
    gray3 = np.repeat(np.arange(35, dtype=np.uint8).reshape(5, 7, 1), 3, 2)
    Image.fromarray(gray3).save(tmp_path / 'g.png')  # RGB with equal channels: the gray
    np.testing.assert_array_equal(read_saliency(str(tmp_path / 'g.png')), gray3[..., 0])


def test_npz_duplicate_or_non_integer_class_ids_are_refused(tmp_path):
    """Fails before the fix: with keys [14, 14] the last map silently won."""
    cams = np.zeros((2, 3, 4), np.uint8)
    np.savez(tmp_path / 'd.npz', keys=np.array([14, 14]), cams=cams)
    with pytest.raises(WSSSInputError, match=r"'d'.*d.npz.*\[14\] appear more than once"):
        load_cams(str(tmp_path), 'd', cam_format='npz')
    np.savez(tmp_path / 's.npz', keys=np.array(['14', '3']), cams=cams)
    with pytest.raises(WSSSInputError, match=r"s.npz.*'keys' must be integer class ids"):
        load_cams(str(tmp_path), 's', cam_format='npz')
    np.savez(tmp_path / 'f.npz', keys=np.array([1, 2]), cams=cams.astype(np.float64))
    with pytest.raises(WSSSInputError, match='uint8, float16 or float32'):
        load_cams(str(tmp_path), 'f', cam_format='npz')


def test_repeated_class_ids_are_refused_when_the_labelled_classes_are_given(tmp_path):
    """Fails before the fix: with ``cls_labels`` passed (as the WSSS datasets always do),
    an npz with keys [14, 14] (or an EPS dict with 14 and '14') kept one map in silence,
    and ``_14.png`` beside ``_014.png`` read one and ignored the other (or, when listed,
    gave a bare 'repeated class ids' from the rule)."""
    cams = np.zeros((2, 3, 4), np.uint8)
    np.savez(tmp_path / 'd.npz', keys=np.array([14, 14]), cams=cams)
    with pytest.raises(WSSSInputError, match=r"'d'.*d.npz.*\[14\] appear more than once"):
        load_cams(str(tmp_path), 'd', [14], cam_format='npz')
    np.save(tmp_path / 'e.npy', {14: cams[0], '14': cams[1]})
    with pytest.raises(WSSSInputError, match=r"'e'.*e.npy.*\[14\] appear more than once"):
        load_cams(str(tmp_path), 'e', [14], cam_format='npy_dict', allow_pickle=True)
    save_cams_bed_png(str(tmp_path), 'b', [3, 14], np.zeros((2, 3, 4), np.float32))
    (tmp_path / 'b_014.png').write_bytes((tmp_path / 'b_14.png').read_bytes())
    both = r"'b'.*class id 14 has 2 bed_png CAM files.*b_014\.png.*b_14\.png"
    for classes in ([14], [3, 14], None):
        with pytest.raises(WSSSInputError, match=both):
            load_cams(str(tmp_path), 'b', classes, cam_format='bed_png')
    assert load_cams(str(tmp_path), 'b', [3], cam_format='bed_png')[1] == [3]


def test_padded_cam_messages_name_the_files_that_exist(tmp_path):
    """Fails before the fix: with only ``b_014.png`` there, the message said class 14 had
    2 files and named ``b_14.png``, which does not exist (3 files with ``b_0014.png``);
    without labelled classes it said 'not found' of ``b_14.png`` only."""
    import os
    save_cams_bed_png(str(tmp_path), 'b', [3, 14], np.zeros((2, 3, 4), np.float32))
    os.rename(tmp_path / 'b_14.png', tmp_path / 'b_014.png')
    alone = r"'b'.*b_14\.png.*CAM file not found; b_014\.png is there, a zero-padded name"
    for classes in ([14], [3, 14], None):
        with pytest.raises(WSSSInputError, match=alone):
            load_cams(str(tmp_path), 'b', classes, cam_format='bed_png')
    (tmp_path / 'b_0014.png').write_bytes((tmp_path / 'b_014.png').read_bytes())
    for classes in ([14], None):
        with pytest.raises(WSSSInputError, match=r'class id 14 has 2 bed_png CAM files') as e:
            load_cams(str(tmp_path), 'b', classes, cam_format='bed_png')
        assert 'b_14.png' not in str(e.value) and 'b_0014.png' in str(e.value)
    assert load_cams(str(tmp_path), 'b', [3], cam_format='bed_png')[1] == [3]


def test_atomic_write_respects_the_umask():
    """Fails before the fix: mkstemp made every output 0600 whatever the umask."""
    import os
    import tempfile

    from mmwsss.fileio import atomic_write
    from mmwsss.fileio.atomic import _UMASK
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, 'x.txt')
        atomic_write(path, lambda f: f.write(b'x'))
        assert os.stat(path).st_mode & 0o777 == 0o666 & ~_UMASK
        assert open(path, 'rb').read() == b'x'


def test_unclear_errors_now_say_what_is_wrong(tmp_path):
    """Before: a CAM of 1.0000001 was reported as 'found [0, 1]'; an empty list file gave
    'need at least one array to concatenate'."""
    from mmwsss.fileio import parse_cls_label_file
    with pytest.raises(WSSSInputError, match=r'found \[0\.0, 1\.0000001'):
        cams_to_unit(np.array([[[0.0, 1.0000001]]], np.float32), 'x', 'x.npz')
    (tmp_path / 'empty.txt').write_text('\n')
    with pytest.raises(WSSSInputError, match=r'empty.txt.*list is empty'):
        parse_cls_label_file(str(tmp_path / 'empty.txt'))


def test_map_sizes_are_checked_in_the_header_before_decoding(tmp_path, monkeypatch):
    """Fails before the fix: a 0.3 MB npz (and a small PNG) were decoded in full, to
    hundreds of MB, before the size check."""
    import tracemalloc

    import mmwsss.fileio.png as png
    from mmwsss.fileio import read_saliency
    np.savez_compressed(tmp_path / 'bomb.npz', keys=np.arange(8),
                        cams=np.zeros((8, 6000, 6000), np.uint8))  # 288 MB decoded
    tracemalloc.start()
    with pytest.raises(WSSSInputError, match=r'bomb\.npz.*6000×6000 \(W×H\) but the image '
                                             r'is 40×30'):
        CAMStore(str(tmp_path), 'npz').load('bomb', hw=(30, 40))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 20 * 2**20, peak
    np.savez(tmp_path / 'many.npz', keys=np.arange(1001), cams=np.zeros((1001, 1, 1), np.uint8))
    with pytest.raises(WSSSInputError, match='1001 maps'):
        CAMStore(str(tmp_path), 'npz').load('many')
    Image.fromarray(np.zeros((3000, 4000), np.uint8)).save(tmp_path / 'sal.png')
    Image.fromarray(np.zeros((3000, 4000), np.uint8)).save(tmp_path / 'cam_3.png')

    def decoded(*a, **k):
        raise AssertionError('decoded before the size check')
    monkeypatch.setattr(png.cv2, 'imdecode', decoded)
    with pytest.raises(WSSSInputError, match=r'sal\.png.*4000×3000 \(W×H\) but the image'):
        read_saliency(str(tmp_path / 'sal.png'), 'sal', (30, 40))
    with pytest.raises(WSSSInputError, match=r'cam_3\.png.*CAM is 4000×3000'):
        CAMStore(str(tmp_path), 'bed_png').load('cam', classes=[3], hw=(30, 40))


def test_without_the_image_size_a_map_header_may_not_claim_a_huge_map(tmp_path, monkeypatch):
    """Fails before the fix: with no image size to compare with (``tools/pack_maps.py``
    loads a store that way), an npz whose header claimed 20000×20000 maps was allocated
    and read, and a 45-byte PNG claiming 20000×20000 was handed to the decoder."""
    import struct
    import tracemalloc
    import zipfile
    import zlib

    import mmwsss.fileio.png as png
    from mmwsss.fileio import read_gray_png
    head = io.BytesIO()
    np.lib.format.write_array_header_1_0(head, dict(descr='|u1', fortran_order=False,
                                                    shape=(1, 20000, 20000)))
    keys = io.BytesIO()
    np.save(keys, np.array([3]))
    with zipfile.ZipFile(tmp_path / 'huge.npz', 'w') as z:  # a header and no data
        z.writestr('keys.npy', keys.getvalue())
        z.writestr('cams.npy', head.getvalue())
    tracemalloc.start()
    with pytest.raises(WSSSInputError, match=r'huge\.npz.*20000×20000 \(W×H\), more than '
                                             r'89478485 pixels'):
        CAMStore(str(tmp_path), 'npz').load('huge')
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 20 * 2**20, peak

    def chunk(kind, data):
        return struct.pack('>I', len(data)) + kind + data + \
            struct.pack('>I', zlib.crc32(kind + data))
    ihdr = struct.pack('>IIBBBBB', 20000, 20000, 8, 0, 0, 0, 0)  # 8-bit gray
    (tmp_path / 'cam_3.png').write_bytes(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', ihdr) +
                                         chunk(b'IEND', b''))

    def decoded(*a, **k):
        raise AssertionError('decoded before the size check')
    monkeypatch.setattr(png.cv2, 'imdecode', decoded)
    with pytest.raises(WSSSInputError, match=r'cam_3\.png.*20000×20000 \(W×H\), more than'):
        CAMStore(str(tmp_path), 'bed_png').load('cam', classes=[3])
    with pytest.raises(WSSSInputError, match=r'cam_3\.png.*more than 89478485 pixels'):
        read_gray_png(str(tmp_path / 'cam_3.png'), 'cam', 'saliency map')


def test_empty_files_are_named(tmp_path):
    """Fails before the fix: a 0-byte image gave OpenCV's '!buf.empty()' assertion with no
    file named."""
    from mmwsss.fileio import read_saliency
    from mmwsss.fileio.png import image_hw, read_image
    for name in ('x.jpg', 'x.png'):
        (tmp_path / name).write_bytes(b'')
    with pytest.raises(WSSSInputError, match=r'x\.jpg.*empty \(0 bytes\)'):
        read_image(str(tmp_path / 'x.jpg'), 'x')
    with pytest.raises(WSSSInputError, match=r'x\.jpg.*empty \(0 bytes\)'):
        image_hw(str(tmp_path / 'x.jpg'), 'x')
    with pytest.raises(WSSSInputError, match=r'x\.png.*saliency map file is empty'):
        read_saliency(str(tmp_path / 'x.png'), 'x', (3, 4))
    (tmp_path / 'y.jpg').write_bytes(b'not an image')
    with pytest.raises(WSSSInputError, match=r'y\.jpg.*cannot decode'):
        read_image(str(tmp_path / 'y.jpg'), 'y')


def test_bed_png_class_ids_in_file_names_are_checked_against_the_classes(tmp_path):
    """Fails before the fix: without the labelled classes, ``x_25.png`` in a store read
    for 20 classes (ids 0..19) was returned as class 25."""
    save_cams_bed_png(str(tmp_path), 'x', [3, 25], np.zeros((2, 4, 5), np.float32))
    with pytest.raises(WSSSInputError, match=r'unknown class id\(s\) \[25\] \(valid: 0\.\.19\)'):
        CAMStore(str(tmp_path), 'bed_png').load('x', hw=(4, 5), max_class=19)


def test_npz_shape_dtype_and_keys_are_checked_in_the_header_before_decoding(tmp_path):
    """Fails before the fix: an npz whose 'cams' was not K×H×W (here one flat array) or
    whose 'keys' held 10^7 ids was decoded in full before it was refused."""
    import tracemalloc
    np.savez_compressed(tmp_path / 'flat.npz', keys=np.arange(2),
                        cams=np.zeros(200 * 2**20, np.uint8))  # 200 MB decoded
    np.savez_compressed(tmp_path / 'keys.npz', keys=np.zeros(10**7, np.int64),
                        cams=np.zeros((2, 3, 4), np.uint8))  # 80 MB of keys
    np.savez(tmp_path / 'f64.npz', keys=np.arange(2), cams=np.zeros((2, 3, 4)))
    np.savez(tmp_path / 'fkeys.npz', keys=np.array([1.0, 2.5]),
             cams=np.zeros((2, 3, 4), np.uint8))
    for name, msg in (('flat', r"'cams' must be K×H×W.*uint8 \(209715200,\)"),
                      ('keys', r"'keys' must be integer class ids.*\(10000000,\) for 2 CAMs"),
                      ('f64', r"'cams' must be K×H×W.*float64"),
                      ('fkeys', r"'keys' must be integer.*float64")):
        tracemalloc.start()
        with pytest.raises(WSSSInputError, match=name + r'\.npz.*' + msg):
            CAMStore(str(tmp_path), 'npz').load(name)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak < 20 * 2**20, (name, peak)


@pytest.mark.parametrize('cams, bad', [({14.7: np.zeros((2, 2))}, '14.7'),
                                       ({'person': np.zeros((2, 2))}, "'person'"),
                                       ({'keys': np.array([2.5]), 'high_res': np.zeros((1, 2, 2))},
                                        '2.5')])
def test_npy_dict_class_ids_must_be_integers(cams, bad, tmp_path):
    """Fails before the fix: an EPS dict key 14.7 became class 14 in silence (int()
    truncates), 'person' gave a bare ValueError, IRN keys [2.5] became class 2."""
    np.save(tmp_path / 'x.npy', cams, allow_pickle=True)
    with pytest.raises(WSSSInputError, match=r'x\.npy.*class id ' + re.escape(bad) +
                       '.*not an integer'):
        load_cams(str(tmp_path), 'x', cam_format='npy_dict', allow_pickle=True)


# --- the packed store (cam_format='packed', tools/pack_maps.py; issue 22) ----------

def _packed(tmp_path, classes=(3, 11), sal=True, hw=(5, 7), name='a'):
    from mmwsss.fileio.packed_maps import save_packed
    rng = np.random.default_rng(0)
    cams = rng.integers(0, 256, (len(classes), ) + hw, dtype=np.uint8)
    s = rng.integers(0, 256, hw, dtype=np.uint8) if sal else None
    path = str(tmp_path / f'{name}.maps')
    save_packed(path, classes, cams, s)
    return path, cams, s


def test_packed_roundtrip_memmap_and_bytes(tmp_path):
    from mmwsss.fileio.packed_maps import parse_header
    path, cams, sal = _packed(tmp_path, classes=(11, 3))  # written sorted by class id
    got, keys, s = CAMStore(str(tmp_path), 'packed').load_maps('a', [3, 11], (5, 7), 19)
    assert keys == [3, 11] and got.dtype == np.uint8
    np.testing.assert_array_equal(got, cams[::-1])
    np.testing.assert_array_equal(s, sal)
    got, keys = CAMStore(str(tmp_path), 'packed').load('a', [11])
    assert keys == [11]
    np.testing.assert_array_equal(got[0], cams[0])
    # the payload is 64-byte aligned: np.memmap maps it as is
    raw = open(path, 'rb').read()
    h = parse_header(raw, len(raw))
    assert h.offset % 64 == 0
    mm = np.memmap(path, np.uint8, 'r', h.offset, (h.num_maps, ) + h.hw)
    np.testing.assert_array_equal(mm[0], sal)
    np.testing.assert_array_equal(mm[1:], cams[::-1])


def test_packed_read_through_an_mmengine_backend(tmp_path):
    """A non-local backend: the bytes come from mmengine.fileio.get."""
    from mmengine.fileio import LocalBackend, register_backend

    class Renamed(LocalBackend):  # any backend other than 'local' takes the bytes path
        pass

    register_backend('packed_test_backend', Renamed, force=True)
    _, cams, sal = _packed(tmp_path)
    store = CAMStore(str(tmp_path), 'packed', backend_args=dict(backend='packed_test_backend'))
    got, keys, s = store.load_maps('a', None, (5, 7))
    np.testing.assert_array_equal(got, cams)
    np.testing.assert_array_equal(s, sal)


def _rewrite(path, fn):
    raw = bytearray(open(path, 'rb').read())
    raw = fn(raw)
    open(path, 'wb').write(bytes(raw))


@pytest.mark.parametrize('backend', [None, 'packed_test_backend'])
def test_packed_bad_input(tmp_path, backend):
    import struct

    from mmengine.fileio import LocalBackend, register_backend
    register_backend('packed_test_backend', type('B', (LocalBackend, ), {}), force=True)
    store = CAMStore(str(tmp_path), 'packed',
                     backend_args=backend and dict(backend=backend))

    def load(name='a', classes=None, hw=(5, 7), max_class=19):
        return store.load_maps(name, classes, hw, max_class)

    path, _, _ = _packed(tmp_path)
    with pytest.raises(WSSSInputError, match=r"a\.maps.*are 7×5 \(W×H\) but the image is 8×5"):
        load(hw=(5, 8))
    with pytest.raises(WSSSInputError, match=r'labelled class\(es\) \[4\] have no CAM'):
        load(classes=[3, 4])
    with pytest.raises(WSSSInputError, match='not found'):
        load('missing')
    _rewrite(path, lambda r: r[:-1])
    with pytest.raises(WSSSInputError, match=r'a\.maps.*truncated: 168 bytes, the header says 169'):
        load()
    _packed(tmp_path)
    _rewrite(path, lambda r: r + b'\0')
    with pytest.raises(WSSSInputError, match='longer than its header says'):
        load()
    _packed(tmp_path)
    _rewrite(path, lambda r: r[:20])
    with pytest.raises(WSSSInputError, match='less than its 36-byte header'):
        load()
    _packed(tmp_path)
    _rewrite(path, lambda r: b'PK\x03\x04' + r[4:])
    with pytest.raises(WSSSInputError, match='not a packed map file'):
        load()
    _packed(tmp_path)
    _rewrite(path, lambda r: r[:8] + struct.pack('<H', 3) + r[10:])
    with pytest.raises(WSSSInputError, match='version 3'):
        load()
    _packed(tmp_path)  # version 2 is the compressed file: one without a codec is damaged
    _rewrite(path, lambda r: r[:8] + struct.pack('<H', 2) + r[10:])
    with pytest.raises(WSSSInputError, match='codec 0'):
        load()
    # class ids: out of range, repeated, unsorted (written past save_packed's checks)
    for ids, msg in (((3, 25), r'unknown class id\(s\) \[25\] \(valid: 0..19\)'),
                     ((3, 3), 'strictly increasing'), ((11, 3), 'strictly increasing')):
        _packed(tmp_path)
        _rewrite(path, lambda r: r[:36] + struct.pack('<2H', *ids) + r[40:])
        with pytest.raises(WSSSInputError, match=msg):
            load()


def test_packed_header_checked_before_the_payload(tmp_path):
    """A header that promises 2 GB on a 64-byte file is refused from the header
    and the file size alone: nothing is allocated or read for the payload."""
    import time

    from mmwsss.fileio.packed_maps import pack_header
    path = tmp_path / 'big.maps'
    path.write_bytes(pack_header((30000, 30000), [0, 1], True))  # 2.7 GB payload declared
    store = CAMStore(str(tmp_path), 'packed')
    t = time.perf_counter()
    with pytest.raises(WSSSInputError, match=r'truncated: 64 bytes, the header says'):
        store.load_maps('big', None, None)
    with pytest.raises(WSSSInputError, match=r"are 30000×30000 \(W×H\) but the image is 7×5"):
        store.load_maps('big', None, (5, 7))
    with pytest.raises(WSSSInputError, match=r'unknown class id\(s\) \[1\] \(valid: 0..0\)'):
        path.write_bytes(pack_header((2, 2), [0, 1], False) + bytes(8))
        store.load_maps('big', None, None, max_class=0)
    assert time.perf_counter() - t < 1


def test_npz_read_with_one_header_parse_keeps_every_layout(tmp_path):
    """The npz reader parses each member's header once and reads the data into
    the array (issue 22): Fortran-ordered CAMs, int32 keys and an uncompressed
    npz come back as np.load gives them, writable."""
    cams = np.random.default_rng(0).integers(0, 256, (2, 5, 7), dtype=np.uint8)
    np.savez_compressed(tmp_path / 'f.npz', keys=np.array([4, 1], np.int32),
                        cams=np.asfortranarray(cams))
    np.savez(tmp_path / 'u.npz', keys=np.array([4, 1]), cams=cams)
    for name in ('f', 'u'):
        got, keys = load_cams(str(tmp_path), name, cam_format='npz')
        assert keys == [4, 1] and got.flags.writeable
        np.testing.assert_array_equal(got, cams)
    got, keys = load_cams(str(tmp_path), 'f', [1], cam_format='npz')
    np.testing.assert_array_equal(got[0], cams[1])
