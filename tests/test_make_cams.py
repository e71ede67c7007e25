"""tools/make_cams.py on the fixture: a CAM store SaliencyPseudoLabel reads;
resumable, never overwrites without --force, clear checkpoint errors."""
import json
import os
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config

import mmwsss  # noqa: F401
from tests.utils import load_tool

make_cams = load_tool('make_cams')

CFG = osp.join(osp.dirname(__file__), 'configs', 'eps_tiny_voc.py')


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    from mmseg.registry import MODELS
    from mmseg.utils import register_all_modules
    register_all_modules()
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(CFG).model)
    path = str(tmp_path_factory.mktemp('ckpt') / 'eps.pth')
    # meta with numpy objects: loads with the safe unpickler once mmwsss
    # registers them (torch >= 2.6)
    meta = dict(seed=np.int64(0), arr=np.zeros(2))
    torch.save({'state_dict': model.state_dict(), 'meta': meta}, path)
    return path


def test_npz_store_feeds_saliency_pseudo_label(tmp_path, checkpoint, voc_root):
    from mmseg.registry import DATASETS, TRANSFORMS
    out = str(tmp_path / 'cams')
    make_cams.main([CFG, checkpoint, '--out-dir', out, '--scales', '0.5', '1.0'])
    cfg = Config.fromfile(CFG)
    ds = DATASETS.build(dict(cfg.cam_dataloader.dataset, pipeline=[]))
    ids = [osp.splitext(osp.basename(ds.get_data_info(i)['img_path']))[0]
           for i in range(len(ds))]
    assert sorted(f for f in os.listdir(out) if f.endswith('.npz')) == sorted(
        i + '.npz' for i in ids)
    meta = json.load(open(osp.join(out, 'meta.json')))
    assert meta['settings']['scales'] == [0.5, 1.0] and meta['settings']['flip'] is True

    load = TRANSFORMS.build(dict(type='LoadImageFromFile'))
    make = TRANSFORMS.build(dict(type='SaliencyPseudoLabel', cam_dir=out, cam_format='npz',
                                 sal_dir=osp.join(voc_root, 'saliency_maps', 'VOC2012_TEST'),
                                 tau=0.1))
    for i in range(len(ds)):
        info = ds.get_data_info(i)
        res = make(load(dict(info)))
        label = res['gt_seg_map']
        assert label.shape == res['img'].shape[:2]
        assert set(np.unique(label)) <= {0, 255} | {c + 1 for c in info['cls_labels']}
        with np.load(osp.join(out, osp.basename(info['img_path'])[:-4] + '.npz')) as z:
            assert z['keys'].tolist() == info['cls_labels'].tolist()
            assert z['cams'].dtype == np.uint8 and z['cams'].max() >= 254  # max-normalised


def test_packed_store_gives_the_npz_stores_labels(tmp_path, checkpoint, voc_root, capsys):
    """--cam-format packed writes the store tools/pack_maps.py would make from the
    npz store (the same maps, read back bit for bit), with the saliency maps of
    --sal-dir inside: SaliencyPseudoLabel gives the npz store's labels from it
    alone; without --sal-dir it holds CAMs only, for mode no_saliency."""
    from mmseg.registry import DATASETS, TRANSFORMS

    from mmwsss.errors import WSSSInputError
    from mmwsss.fileio import CAMStore
    from mmwsss.fileio.packed_maps import read_packed
    sal_dir = osp.join(voc_root, 'saliency_maps', 'VOC2012_TEST')
    base = [CFG, checkpoint, '--scales', '0.5', '--no-flip', '--work-dir', str(tmp_path / 'w')]
    out = {k: str(tmp_path / k) for k in ('npz', 'packed', 'cams_only')}
    make_cams.main(base + ['--out-dir', out['npz']])
    make_cams.main(base + ['--out-dir', out['packed'], '--cam-format', 'packed', '--sal-dir',
                           sal_dir])
    make_cams.main(base + ['--out-dir', out['cams_only'], '--cam-format', 'packed',
                           '--compress', 'none'])
    settings = json.load(open(osp.join(out['packed'], 'meta.json')))['settings']
    assert settings['cam_format'] == 'packed' and settings['compress'] == 'lz4'
    assert settings['sal_dir'] == osp.abspath(sal_dir)
    cfg = Config.fromfile(CFG)
    ds = DATASETS.build(dict(cfg.cam_dataloader.dataset, pipeline=[]))
    load = TRANSFORMS.build(dict(type='LoadImageFromFile'))
    npz = CAMStore(out['npz'], 'npz')
    varied = 0
    for mode, sal in (('saliency', sal_dir), ('no_saliency', None)):
        want = TRANSFORMS.build(dict(type='SaliencyPseudoLabel', cam_dir=out['npz'],
                                     cam_format='npz', sal_dir=sal, tau=0.1, mode=mode))
        got = [TRANSFORMS.build(dict(type='SaliencyPseudoLabel', cam_dir=out[k],
                                     cam_format='packed', tau=0.1, mode=mode))
               for k in (('packed', 'cams_only') if mode == 'no_saliency' else ('packed', ))]
        for i in range(len(ds)):
            res = load(dict(ds.get_data_info(i)))
            label = want(dict(res))['gt_seg_map']
            varied += len(np.unique(label)) > 1
            for t in got:
                np.testing.assert_array_equal(t(dict(res))['gt_seg_map'], label)
    assert varied  # labels worth comparing: more than one value
    img_id = '2007_000032'
    header, maps = read_packed(osp.join(out['packed'], img_id + '.maps'))
    assert header.codec == 'lz4' and header.has_saliency
    np.testing.assert_array_equal(maps[1:], npz.load(img_id)[0])
    header, maps = read_packed(osp.join(out['cams_only'], img_id + '.maps'))
    assert header.codec is None and not header.has_saliency
    np.testing.assert_array_equal(maps, npz.load(img_id)[0])
    # a CAMs-only pack in saliency mode: refused, naming the fix
    with pytest.raises(WSSSInputError,
                       match=r'holds no saliency map.*make_cams.py --cam-format packed --sal-dir'):
        TRANSFORMS.build(dict(type='SaliencyPseudoLabel', cam_dir=out['cams_only'],
                              cam_format='packed', tau=0.1))(load(dict(ds.get_data_info(0))))
    # resumable as every store; another codec is another setting
    capsys.readouterr()
    make_cams.main(base + ['--out-dir', out['packed'], '--cam-format', 'packed', '--sal-dir',
                           sal_dir])
    assert '0 images written, 4 kept' in capsys.readouterr().out
    with pytest.raises(SystemExit, match='other settings'):
        make_cams.main(base + ['--out-dir', out['packed'], '--cam-format', 'packed',
                               '--sal-dir', sal_dir, '--compress', 'lzma'])


def test_resume_force_and_settings_guard(tmp_path, checkpoint, capsys):
    out = str(tmp_path / 'cams')
    args = [CFG, checkpoint, '--out-dir', out, '--scales', '1.0', '--no-flip',
            '--cam-format', 'bed_png']
    make_cams.main(args)
    files = sorted(f for f in os.listdir(out) if f.endswith('.png'))
    assert '2007_000032_0.png' in files and '2007_000032_14.png' in files
    victim = osp.join(out, '2008_000002_11.png')
    os.remove(victim)
    mtimes = {f: os.stat(osp.join(out, f)).st_mtime_ns for f in files if osp.exists(
        osp.join(out, f))}
    capsys.readouterr()
    make_cams.main(args)  # resumes: only the incomplete image is redone
    assert '1 images written, 3 kept' in capsys.readouterr().out
    assert osp.isfile(victim)
    for f, t in mtimes.items():
        if not f.startswith('2008_000002'):
            assert os.stat(osp.join(out, f)).st_mtime_ns == t
    with pytest.raises(SystemExit, match='other settings'):
        make_cams.main(args[:-2] + ['--cam-format', 'npz'])
    make_cams.main(args + ['--force'])
    assert '4 images written, 0 kept' in capsys.readouterr().out


def test_checkpoint_for_another_dataset_is_a_clear_error(tmp_path, checkpoint):
    with pytest.raises(SystemExit, match=r'eps.pth.*21 output channels.*num_classes=80'):
        make_cams.main([CFG, checkpoint, '--out-dir', str(tmp_path / 'c'),
                        '--cfg-options', 'model.num_classes=80'])


def test_runner_checkpoint_needs_trust(tmp_path, checkpoint):
    """A Runner checkpoint's message hub pickles bound methods: refused by the
    safe loader with a clear message, loaded with --trust-checkpoint."""
    from mmengine.logging import HistoryBuffer
    ckpt = torch.load(checkpoint, weights_only=False)
    # as in a Runner checkpoint: HistoryBuffer methods, pickled as getattr(cls, name)
    hist = HistoryBuffer([1.0, 2.0], [1, 1])
    ckpt['message_hub'] = dict(log_scalars={'loss': hist},
                               statistics_methods={'min': HistoryBuffer.min})
    path = str(tmp_path / 'iter_2.pth')
    torch.save(ckpt, path)
    args = [CFG, path, '--out-dir', str(tmp_path / 'c'), '--scales', '0.5', '--no-flip']
    with pytest.raises(SystemExit, match='iter_2.pth.*--trust-checkpoint'):
        make_cams.main(args)
    make_cams.main(args + ['--trust-checkpoint'])
    assert len([f for f in os.listdir(tmp_path / 'c') if f.endswith('.npz')]) == 4


def test_a_new_checkpoint_at_the_same_path_is_other_settings(tmp_path, checkpoint):
    """Fails before the fix: the guard compared the path string, so a retrained model
    saved at the same path resumed into the old store (two models' CAMs mixed)."""
    import shutil
    import time
    ckpt = str(tmp_path / 'model.pth')
    shutil.copy(checkpoint, ckpt)
    out = str(tmp_path / 'cams')
    args = [CFG, ckpt, '--out-dir', out, '--scales', '0.5', '--no-flip',
            '--work-dir', str(tmp_path / 'w')]
    make_cams.main(args)
    time.sleep(0.01)
    state = torch.load(ckpt, weights_only=False)
    torch.save(state, ckpt)  # "retrained": same path, new file
    with pytest.raises(SystemExit, match='other settings'):
        make_cams.main(args)


def test_zero_byte_outputs_are_redone(tmp_path, checkpoint, capsys):
    """Fails before the fix: a rerun kept a zero-byte CAM file as done."""
    out = str(tmp_path / 'cams')
    args = [CFG, checkpoint, '--out-dir', out, '--scales', '0.5', '--no-flip',
            '--work-dir', str(tmp_path / 'w')]
    make_cams.main(args)
    victim = osp.join(out, '2007_000039.npz')
    open(victim, 'wb').close()
    capsys.readouterr()
    make_cams.main(args)
    assert '1 images written, 3 kept' in capsys.readouterr().out
    assert os.path.getsize(victim) > 0


@pytest.mark.parametrize('flags, msg', [
    (['--cam-format', 'bed_png', '--dtype', 'float16'], 'bed_png maps are 8-bit'),
    (['--cam-format', 'packed', '--dtype', 'float16'], 'packed maps are uint8'),
    (['--sal-dir', 'sal'], 'apply to --cam-format packed, not npz'),
    (['--cam-format', 'packed', '--compress', 'bz2', '--level', '0'], 'bz2 level must lie'),
    (['--scales', '1.0', '0'], '--scales: want a number > 0'),
    (['--scales', 'nan'], '--scales: want a number > 0'),
])
def test_contradicting_arguments_are_refused(flags, msg, capsys):
    """Fails before the fix: --dtype float16 was silently unread for bed_png stores, and a
    scale of 0 failed deep in the network."""
    with pytest.raises(SystemExit):
        make_cams.parse_args([CFG, 'x.pth', '--out-dir', 'o'] + flags)
    assert msg in capsys.readouterr().err


def _two_ranks(target, *args):
    """Run ``target(rank, queue, *args)`` in two forked processes (gloo ranks 0, 1) and
    return what each put in the queue, by rank."""
    import multiprocessing as mp
    ctx = mp.get_context('fork')
    queue = ctx.Queue()
    procs = [ctx.Process(target=target, args=(r, queue) + args) for r in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        if p.is_alive():
            p.kill()
    assert [p.exitcode for p in procs] == [0, 0]
    return dict(queue.get(timeout=5) for _ in procs)


def _writer_rank(rank, queue, store, cwd, out_dir):
    import torch.distributed as torch_dist

    from mmwsss.evaluation import CAMStoreWriter
    os.chdir(cwd)
    torch_dist.init_process_group('gloo', init_method=f'file://{store}', rank=rank,
                                  world_size=2)
    try:
        writer = CAMStoreWriter(out_dir)  # as write_cam_store builds it
        writer.results.extend([1] * (3 - rank))  # 3 + 2 images, one padded by the sampler
        queue.put((rank, writer.evaluate(4)))
    finally:
        torch_dist.destroy_process_group()


def test_two_ranks_leave_no_collect_folder_in_the_current_directory(tmp_path):
    """Fails before the fix: under DDP (make_cams --launcher pytorch) mmengine's metric
    collection made an empty `.dist_test/` in the current directory, outside the CAM store
    and the work dir. Two forked gloo ranks gather as make_cams' metric does."""
    cwd = tmp_path / 'cwd'
    cwd.mkdir()
    results = _two_ranks(_writer_rank, str(tmp_path / 'store'), str(cwd), str(tmp_path / 'out'))
    assert results[0] == results[1] == {'cams/num_written': 4.0}
    assert os.listdir(cwd) == []  # no .dist_test/


def test_the_lock_comes_before_meta_and_a_failed_first_run_blocks_nothing(tmp_path,
                                                                           checkpoint):
    """Fails before the fix: a first run that failed before its first CAM left a
    meta.json that refused the next good run ("other settings") into the still empty
    folder; and a ``--force`` run that the lock refused had already rewritten meta.json,
    so the store held one model's CAMs under another's settings."""
    from mmwsss.outputs import OutputLock
    out = tmp_path / 'cams'
    base = [CFG, checkpoint, '--out-dir', str(out), '--no-flip', '--work-dir',
            str(tmp_path / 'w')]
    with pytest.raises(SystemExit, match='21 output channels'):  # fails at loading
        make_cams.main(base + ['--scales', '0.5', '--cfg-options', 'model.num_classes=80'])
    assert not [f for f in os.listdir(out) if f.endswith('.npz')]
    make_cams.main(base + ['--scales', '1.0'])  # other settings, into the empty folder
    assert json.load(open(out / 'meta.json'))['settings']['scales'] == [1.0]
    meta = (out / 'meta.json').read_bytes()
    with OutputLock(str(out)):  # another run is writing
        with pytest.raises(SystemExit, match='in use by process'):
            make_cams.main(base + ['--scales', '0.5', '--force'])
    assert (out / 'meta.json').read_bytes() == meta


def _make_cams_rank(rank, queue, port, out_dir, work_dir, checkpoint):
    from mmwsss.apis import CAMSettings, write_cam_store
    torch.cuda.is_available = lambda: False  # the CPU (gloo) path, also on a GPU machine
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE='2',
                      MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    cfg = Config.fromfile(CFG)
    cfg.work_dir = work_dir
    try:
        write_cam_store(cfg, checkpoint, out_dir, CAMSettings(scales=[0.5]), launcher='pytorch')
        queue.put((rank, 'written'))
    except SystemExit as e:
        queue.put((rank, str(e)))


def test_a_ddp_run_takes_the_lock_on_rank_zero(tmp_path, checkpoint):
    """Fails before the fix: ``make_cams --launcher pytorch`` took no lock, so a DDP run
    wrote into a store another run was writing (two models' CAMs mixed). Now rank 0
    takes the lock and both ranks stop with its message before writing anything."""
    import socket

    from mmwsss.outputs import OutputLock
    out = tmp_path / 'cams'
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    with OutputLock(str(out)):  # another run is writing
        results = _two_ranks(_make_cams_rank, port, str(out), str(tmp_path / 'w'), checkpoint)
    assert 'in use by process' in results[0], results
    assert 'in use by process' in results[1] and 'from rank 0' in results[1], results
    assert os.listdir(out) == []  # no meta.json, no CAM


def test_a_store_among_the_images_or_saliency_maps_is_refused(tmp_path, voc_copy, checkpoint):
    """Fails before the fix: --out-dir at the saliency folder wrote bed_png CAMs and a
    meta.json among the saliency maps; inside the image folder, among the images."""
    opts = ['--cfg-options', f'cam_dataloader.dataset.data_root={voc_copy}']
    for folder, what in (('saliency_maps/VOC2012_TEST', 'is the saliency map folder'),
                         ('JPEGImages/cams', 'lies inside the image folder')):
        out = osp.join(voc_copy, folder)
        before = sorted(os.listdir(out)) if osp.isdir(out) else None
        with pytest.raises(SystemExit, match=what):
            make_cams.main([CFG, checkpoint, '--out-dir', out, '--scales', '0.5', '--no-flip',
                            '--cam-format', 'bed_png', '--work-dir', str(tmp_path / 'w')]
                           + opts)
        assert (sorted(os.listdir(out)) if osp.isdir(out) else None) == before


def _tag_exif(path):
    from PIL import Image
    img = Image.open(path)
    exif = img.getexif()
    exif[0x0112] = 6  # rotate 90° when displayed
    img.save(path, exif=exif.tobytes())


def test_an_exif_tagged_image_is_refused_before_its_cams_are_written(tmp_path, voc_copy,
                                                                      checkpoint):
    """Fails before the fix: mmcv turned the tagged image upright and its CAMs were
    written in that frame, while the saliency maps and GT masks they meet later are in
    the stored frame (a square image: a silently rotated CAM)."""
    from mmwsss.errors import WSSSInputError
    _tag_exif(osp.join(voc_copy, 'JPEGImages', '2007_000039.jpg'))
    out = tmp_path / 'cams'
    with pytest.raises((SystemExit, WSSSInputError), match=r'2007_000039.*EXIF orientation'):
        make_cams.main([CFG, checkpoint, '--out-dir', str(out), '--scales', '0.5', '--no-flip',
                        '--work-dir', str(tmp_path / 'w'), '--cfg-options',
                        f'cam_dataloader.dataset.data_root={voc_copy}'])
    assert not list(out.glob('*.npz'))
