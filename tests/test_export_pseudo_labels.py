import json
import re
import os
import os.path as osp
import signal
import time

import numpy as np
import pytest
from PIL import Image

from mmwsss.config import find_pseudo_label_step
from tests.utils import load_tool

export_pseudo_labels = load_tool('export_pseudo_labels')

CFG = osp.join(osp.dirname(__file__), 'configs', 'tiny_fcn_voc_pseudo.py')


def test_export_matches_transform_resumes_and_refuses_other_settings(tmp_path, voc_root):
    from mmwsss.fileio import CAMStore, read_saliency
    from mmwsss.functional import PseudoLabelRule
    out = str(tmp_path / 'labels')
    export_pseudo_labels.main([CFG, '--out-dir', out])
    ids = open(osp.join(voc_root, 'ImageSets/Segmentation/train_aug.txt')).read().split()
    cls = {ln.split()[0]: [int(c) for c in ln.split()[1:]]
           for ln in open(osp.join(voc_root, 'cls_labels/train_aug.txt'))}
    for img_id in ids:
        img = Image.open(osp.join(out, img_id + '.png'))
        assert img.mode == 'P'  # palette PNG, as VOC label maps
        lab = np.asarray(img)
        cams, keys = CAMStore(osp.join(voc_root, 'activation_maps/VOC2012_TEST')).load(
            img_id, cls[img_id], lab.shape)
        sal = read_saliency(osp.join(voc_root, 'saliency_maps/VOC2012_TEST', img_id + '.png'))
        ref = PseudoLabelRule(tau=0.1)(cams, keys, sal)
        np.testing.assert_array_equal(lab, ref)
    assert json.load(open(osp.join(out, 'meta.json')))['settings']['pseudo_label']['tau'] == 0.1

    # resume: only the missing label is written
    first = osp.join(out, ids[0] + '.png')
    keep = osp.join(out, ids[1] + '.png')
    mtime = osp.getmtime(keep)
    os.remove(first)
    export_pseudo_labels.main([CFG, '--out-dir', out])
    assert osp.isfile(first) and osp.getmtime(keep) == mtime

    # other settings into the same folder: refused without --force
    opt = ['--cfg-options', 'train_dataloader.dataset.pipeline.1.tau=0.5']
    with pytest.raises(SystemExit, match='other settings'):
        export_pseudo_labels.main([CFG, '--out-dir', out] + opt)
    export_pseudo_labels.main([CFG, '--out-dir', out, '--force'] + opt)
    assert json.load(open(osp.join(out, 'meta.json')))['settings']['pseudo_label']['tau'] == 0.5


def test_finds_the_step_in_the_dataset_or_the_pipeline():
    step = dict(type='SaliencyPseudoLabel', tau=0.2)
    wrapped = dict(type='RepeatDataset', times=2, dataset=dict(
        type='VOCWSSSDataset', pseudo_label_cfg=dict(tau=0.3, mode='no_saliency'),
        pipeline=[dict(type='LoadImageFromFile'), dict(type='PackSegInputs')]))
    ds, found = find_pseudo_label_step(wrapped)
    assert ds['type'] == 'VOCWSSSDataset' and found == dict(tau=0.3, mode='no_saliency')
    ds, found = find_pseudo_label_step(
        dict(type='PascalVOCDataset', pipeline=[dict(type='LoadImageFromFile'), step]))
    assert found == step
    with pytest.raises(ValueError, match='no SaliencyPseudoLabel'):
        find_pseudo_label_step(dict(type='X', pipeline=[]))


def test_export_crf_labels_as_psa_and_irn(tmp_path, voc_root):
    """--crf: the CAM-only label of the config's τ refined by DenseCRF (psa preset)."""
    pytest.importorskip('pydensecrf.densecrf')
    import mmcv

    from mmwsss.fileio import CAMStore, cams_to_unit
    from mmwsss.functional.dense_crf import crf_label
    out = str(tmp_path / 'crf')
    opt = ['--cfg-options', 'train_dataloader.dataset.pipeline.1.mode=no_saliency']
    export_pseudo_labels.main([CFG, '--out-dir', out, '--crf'] + opt)
    assert json.load(open(osp.join(out, 'meta.json')))['settings']['pseudo_label']['crf'] == 'psa'
    img_id = '2008_000002'
    lab = np.asarray(Image.open(osp.join(out, img_id + '.png')))
    cams, keys = CAMStore(osp.join(voc_root, 'activation_maps/VOC2012_TEST')).load(
        img_id, [11, 14], lab.shape)
    rgb = mmcv.imread(osp.join(voc_root, 'JPEGImages', img_id + '.jpg'), channel_order='rgb')
    np.testing.assert_array_equal(lab, crf_label(rgb, cams_to_unit(cams), keys, 0.1, 'psa'))
    with pytest.raises(ValueError, match="crf refines CAM-only labels"):
        export_pseudo_labels.main([CFG, '--out-dir', str(tmp_path / 'x'), '--crf'])


def test_a_folder_in_use_by_another_run_is_refused(tmp_path):
    """Fails before the fix: two exports into one folder both exited 0 and left a
    mixture of τ settings under one meta.json."""
    from mmwsss.outputs import OutputLock
    out = tmp_path / 'labels'
    with OutputLock(str(out)):  # another run holds it
        with pytest.raises(SystemExit, match=r'in use by process \d+ on .*wait for'):
            export_pseudo_labels.main([CFG, '--out-dir', str(out)])
        assert not (out / 'meta.json').exists()
    export_pseudo_labels.main([CFG, '--out-dir', str(out)])  # its run has ended
    assert (out / 'meta.json').exists() and not (out / '.lock').exists()


def _hold_lock(out, barrier, queue, seconds):
    from mmwsss.outputs import OutputLock
    barrier.wait()
    try:
        with OutputLock(out):
            queue.put('held')
            time.sleep(seconds)
    except SystemExit as e:
        queue.put(str(e))


def test_the_output_lock_is_the_kernels(tmp_path):
    """Fails before the fix: the lock was a file with a pid that the next run checked.
    A live run in another container (PID namespace) on the same hostname has a pid that
    does not exist here, so its lock was taken over (labels at mixed τ); an empty or
    garbage lock file gave "process None on None" or a bare ValueError; and a stale
    lock was taken over by every run that saw it at once. Now the lock is ``flock``:
    held exactly while its holder lives, whatever its file says."""
    import fcntl
    import multiprocessing as mp
    import socket

    from mmwsss.outputs import OutputLock
    out = tmp_path / 'labels'
    out.mkdir()
    lock = out / '.lock'
    # a live holder whose pid means nothing here (another container's namespace)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    os.write(fd, f'999999999 {socket.gethostname()}'.encode())  # as an older mmwsss wrote
    with pytest.raises(SystemExit, match=r'in use by another run \(its lock file names no'):
        OutputLock(str(out)).__enter__()
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(dict(host=socket.gethostname(), pid=999999999,
                                 command='export_pseudo_labels.py --tau 0.3',
                                 started='2025-01-01 00:00:00 +0000')).encode(), 0)
    with pytest.raises(SystemExit, match=r'in use by process 999999999 on .* --tau 0\.3'):
        OutputLock(str(out)).__enter__()
    os.close(fd)  # that run ends
    # files left behind, or half written: nobody holds them
    for left in ('', 'garbage', f'{os.getppid()} {socket.gethostname()}', '\x00\xff'):
        lock.write_text(left, encoding='latin-1')
        with OutputLock(str(out)):
            assert json.loads(lock.read_text())['pid'] == os.getpid()
        assert not lock.exists()
    # a run killed while it held the lock: the kernel released it
    ctx = mp.get_context('fork')
    barrier, queue = ctx.Barrier(1), ctx.Queue()
    killed = ctx.Process(target=_hold_lock, args=(str(out), barrier, queue, 60))
    killed.start()
    assert queue.get(timeout=10) == 'held'
    killed.kill()
    killed.join()
    with OutputLock(str(out)):
        pass
    # many runs that start at once on a stale lock file: exactly one holds it (the old
    # race, two runs each removing the stale file, was too rare to show here)
    lock.write_text(f'999999999 {socket.gethostname()}')
    n = 8
    barrier, queue = ctx.Barrier(n), ctx.Queue()  # a killed writer may leave a queue locked
    procs = [ctx.Process(target=_hold_lock, args=(str(out), barrier, queue, 0.5))
             for _ in range(n)]
    for p in procs:
        p.start()
    verdicts = [queue.get(timeout=20) for _ in procs]
    for p in procs:
        p.join(10)
    assert verdicts.count('held') == 1, verdicts
    assert all('in use by' in v for v in verdicts if v != 'held'), verdicts


def test_semi_supervised_export_holds_pseudo_labels_only_and_keeps_nothing_stale(
        tmp_path, voc_root, capsys):
    """Fails before the fix (issue 21, BAD 5): exporting a semi-supervised config
    wrote the GT masks of its gt_subset into the pseudo-label folder, and a later
    plain export kept them ("4 kept"). Now every image gets its pseudo label (the
    same as a plain export), meta.json lists the subset, and a rerun for other
    images is refused, or with --force drops the labels of images no longer listed."""
    from mmwsss.fileio import CAMStore, read_saliency
    from mmwsss.functional import PseudoLabelRule
    semi = ['--cfg-options', 'train_dataloader.dataset.gt_subset='
            'ImageSets/Segmentation/train.txt']
    out = str(tmp_path / 'labels')
    export_pseudo_labels.main([CFG, '--out-dir', out] + semi)
    cls = {ln.split()[0]: [int(c) for c in ln.split()[1:]]
           for ln in open(osp.join(voc_root, 'cls_labels/train_aug.txt'))}
    for img_id in ('2007_000032', '2008_000002'):  # the gt_subset
        lab = np.asarray(Image.open(osp.join(out, img_id + '.png')))
        cams, keys = CAMStore(osp.join(voc_root, 'activation_maps/VOC2012_TEST')).load(
            img_id, cls[img_id], lab.shape)
        sal = read_saliency(osp.join(voc_root, 'saliency_maps/VOC2012_TEST', img_id + '.png'))
        np.testing.assert_array_equal(lab, PseudoLabelRule(tau=0.1)(cams, keys, sal))
    meta = json.load(open(osp.join(out, 'meta.json')))
    assert meta['gt_subset'] == ['2007_000032', '2008_000002']
    assert 'gt_subset' in capsys.readouterr().out
    export_pseudo_labels.main([CFG, '--out-dir', out])  # the same labels: resumed
    assert '0 labels written, 4 kept' in capsys.readouterr().out

    # a folder written for other images is not resumed; --force leaves no stale label
    other = ['--cfg-options', 'train_dataloader.dataset.ann_file='
             'ImageSets/Segmentation/train.txt']
    with pytest.raises(SystemExit, match='other settings'):
        export_pseudo_labels.main([CFG, '--out-dir', out] + other)
    export_pseudo_labels.main([CFG, '--out-dir', out, '--force'] + other)
    assert sorted(f for f in os.listdir(out) if f.endswith('.png')) == \
        ['2007_000032.png', '2008_000002.png']
    assert '2 label(s) of images not listed now removed' in capsys.readouterr().out


def _die_on_three(job):
    if job == 3:
        os.kill(os.getpid(), signal.SIGKILL)
    return job


def test_a_killed_worker_ends_a_parallel_run_with_an_error():
    """Fails before the fix (here by the alarm): multiprocessing.Pool waited for the lost
    task forever, so export --nproc, the τ sweep and the COCO converter hung."""
    from mmwsss.parallel import track_parallel

    def hung(*_):
        raise TimeoutError('track_parallel still waits for the killed worker')

    old = signal.signal(signal.SIGALRM, hung)
    signal.alarm(60)
    try:
        with pytest.raises(RuntimeError, match='exporting: a worker process died'):
            list(track_parallel(_die_on_three, list(range(8)), nproc=2, desc='exporting',
                                chunksize=1, quiet=True))
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def _copy_opts(voc_copy):
    return ['--cfg-options', f'train_dataloader.dataset.data_root={voc_copy}',
            f'train_dataloader.dataset.pipeline.1.cam_dir={voc_copy}/activation_maps/VOC2012_TEST',
            f'train_dataloader.dataset.pipeline.1.sal_dir={voc_copy}/saliency_maps/VOC2012_TEST']


@pytest.mark.parametrize('out, what', [
    ('saliency_maps/VOC2012_TEST', 'is the saliency folder'),
    ('SegmentationClassAug', r'is the GT label map folder \(seg_map_path\)'),
    ('JPEGImages/labels', r'lies inside the image folder \(img_path\)'),
    ('activation_maps/VOC2012_TEST', 'is the CAM store'),
])
def test_an_output_folder_among_the_inputs_is_refused(out, what, voc_copy):
    """Fails before the fix: --out-dir at the saliency folder wrote each label over
    the image's saliency map (both are <img_id>.png), at the GT folder over the GT."""
    out = osp.join(voc_copy, out)
    before = {f: open(osp.join(out, f), 'rb').read() for f in os.listdir(out)} \
        if osp.isdir(out) else {}
    with pytest.raises(SystemExit, match=what):
        export_pseudo_labels.main([CFG, '--out-dir', out] + _copy_opts(voc_copy))
    after = {f: open(osp.join(out, f), 'rb').read() for f in os.listdir(out)} \
        if osp.isdir(out) else {}
    assert after == before


def test_a_launcher_start_is_refused(tmp_path, monkeypatch):
    """Fails before the fix: under torchrun every rank ran the whole export into one
    folder; all but one stopped halfway at the lock with a message about another run."""
    monkeypatch.setenv('WORLD_SIZE', '2')
    with pytest.raises(SystemExit, match='runs in one process'):
        export_pseudo_labels.main([CFG, '--out-dir', str(tmp_path / 'l')])
    assert not osp.exists(tmp_path / 'l')


def test_a_damaged_meta_json_is_named(tmp_path):
    """Fails before the fix: a meta.json holding a list gave AttributeError: 'list'
    object has no attribute 'get'; one cut short, a bare JSONDecodeError."""
    out = tmp_path / 'labels'
    out.mkdir()
    for content, msg in (('[1, 2]', 'a JSON list, not the object'), ('{"sett', 'not valid JSON')):
        (out / 'meta.json').write_text(content)
        with pytest.raises(SystemExit, match=re.escape(str(out / 'meta.json')) + '.*' + msg):
            export_pseudo_labels.main([CFG, '--out-dir', str(out)])
