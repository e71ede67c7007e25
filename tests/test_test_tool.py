"""tools/train.py then tools/test.py (--out, --show-dir, --tta) on the VOC fixture."""
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CFG = osp.join(ROOT, 'tests', 'configs', 'tiny_fcn_voc_pseudo.py')
def _run(args):
    env = dict(os.environ, CUDA_VISIBLE_DEVICES='')
    p = subprocess.run([sys.executable] + args, cwd=ROOT, env=env, capture_output=True,
                       text=True, timeout=300)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    return p.stdout + p.stderr


def test_train_then_test_with_out_show_dir_and_tta(tmp_path):
    work = str(tmp_path / 'work')
    _run([osp.join(ROOT, 'tools', 'train.py'), CFG, '--work-dir', work])
    ckpt = osp.join(work, 'iter_4.pth')
    out, show = str(tmp_path / 'pred'), str(tmp_path / 'show')
    log = _run([osp.join(ROOT, 'tools', 'test.py'), CFG, ckpt, '--work-dir', work,
                '--out', out, '--show-dir', show])
    assert 'mIoU' in log
    preds = sorted(os.listdir(out))
    assert preds == ['2007_000033.png', '2010_000001.png']
    gt = np.asarray(Image.open(osp.join(ROOT, 'tests/data/voc/SegmentationClassAug',
                                        '2010_000001.png')))
    pred = np.asarray(Image.open(osp.join(out, '2010_000001.png')))
    assert pred.shape == gt.shape and pred.max() <= 20
    assert sorted(os.listdir(show)) == ['2007_000033.png', '2010_000001.png']  # as --help says
    # only the val data on this machine (fails before the fix: mmseg's hook asked for
    # runner.iter, which builds the training loop); a relative --show-dir lands under
    # work_dir/<timestamp>/
    _run([osp.join(ROOT, 'tools', 'test.py'), CFG, ckpt, '--work-dir', work, '--show-dir', 'vis',
          '--cfg-options', f"train_dataloader.dataset.data_root={tmp_path / 'no_train_data'}"])
    drawn = sorted(osp.relpath(osp.join(d, f), work) for d, _, fs in os.walk(work) for f in fs
                   if f.endswith('.png') and osp.basename(d) == 'vis')
    assert len(drawn) == 2 and all(p.split(os.sep)[1] == 'vis' for p in drawn)
    log = _run([osp.join(ROOT, 'tools', 'test.py'), CFG, ckpt, '--work-dir', work, '--tta'])
    assert 'mIoU' in log


def test_crf_with_and_without_tta_and_the_protocol_is_recorded(tmp_path):
    import json
    work = str(tmp_path / 'work')
    _run([osp.join(ROOT, 'tools', 'train.py'), CFG, '--work-dir', work])
    ckpt = osp.join(work, 'iter_4.pth')
    for extra in (['--crf', '--crf-workers', '2'], ['--crf', 'psa', '--tta'],
                  ['--crf', '--crf-workers', '0']):
        out = str(tmp_path / ('pred' + '_'.join(extra)))
        log = _run([osp.join(ROOT, 'tools', 'test.py'), CFG, ckpt, '--work-dir', work,
                    '--out', out] + extra)
        assert 'mIoU' in log
        assert sorted(os.listdir(out)) == ['2007_000033.png', '2010_000001.png']
        runs = sorted(d for d in os.listdir(work) if osp.isfile(osp.join(work, d,
                                                                        'protocol.json')))
        p = json.load(open(osp.join(work, runs[-1], 'protocol.json')))
        assert p['crf'] == ('psa' if 'psa' in extra else 'deeplab')
        assert '--tta' in extra or 'DenseCRF (' in log  # the loop's progress bar
        assert p['num_images'] == 2 and p['split'].endswith('val.txt')
        assert p['checkpoint_iter'] == 4 and 'mIoU' in p['metrics'] and 'ignore' in p
        assert (p['tta'] is None) == ('--tta' not in extra)
        if p['tta']:
            assert p['tta']['flip'] and len(p['tta']['scales']) > 1
    # the worker pool refines exactly as the main process does
    for name in ('2007_000033.png', '2010_000001.png'):
        a, b = (np.asarray(Image.open(osp.join(tmp_path, d, name)))
                for d in ('pred--crf_--crf-workers_2', 'pred--crf_--crf-workers_0'))
        np.testing.assert_array_equal(a, b)
    # hostile input (issue 12; failed before: loaded with strict=False, exit 0, wrong mIoU):
    # a config whose head has another num_classes than the checkpoint
    env = dict(os.environ, CUDA_VISIBLE_DEVICES='')
    p = subprocess.run([sys.executable, osp.join(ROOT, 'tools', 'test.py'), CFG, ckpt,
                        '--work-dir', work, '--cfg-options', 'model.decode_head.num_classes=5',
                        'model.auxiliary_head.num_classes=5'],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode != 0
    assert 'cannot load checkpoint' in p.stderr and 'size mismatch' in p.stderr


def test_wsss_bed_protocol_keeps_the_best_checkpoint_and_test_reports_it(tmp_path, capsys):
    """WSSS-BED's protocol (the mixin) in a real run: validation from 60 % of training on,
    the best mIoU kept; `tools/test.py CONFIG best` scores that checkpoint and
    protocol.json says it was chosen on the evaluation set."""
    import json
    bed = osp.join(ROOT, 'tests', 'configs', 'tiny_fcn_voc_pseudo_wsss-bed.py')
    work = str(tmp_path / 'work')
    log = _run([osp.join(ROOT, 'tools', 'train.py'), bed, '--work-dir', work])
    assert 'eval_protocol wsss-bed: validation every 1 iterations from iteration 4 of 6' in log
    scalars = next(p for p in (tmp_path / 'work').glob('*/vis_data/scalars.json'))
    vals = [r for r in map(json.loads, open(scalars)) if 'mIoU' in r]
    assert [r['step'] for r in vals] == [4, 5, 6]
    best = max(vals, key=lambda r: r['mIoU'])  # the first of equal bests
    best_files = sorted(f for f in os.listdir(work) if f.startswith('best_mIoU_iter_'))
    assert best_files == [f"best_mIoU_iter_{best['step']}.pth"]
    _run([osp.join(ROOT, 'tools', 'test.py'), bed, 'best', '--work-dir', work])
    runs = sorted(d for d in os.listdir(work) if osp.isfile(osp.join(work, d, 'protocol.json')))
    p = json.load(open(osp.join(work, runs[-1], 'protocol.json')))
    assert p['checkpoint'].endswith(best_files[0]) and p['checkpoint_iter'] == best['step']
    assert p['eval_protocol']['type'] == 'wsss-bed' and p['eval_protocol']['selects_on_eval']
    assert abs(p['metrics']['mIoU'] - best['mIoU']) < 0.01
    # the default protocol keeps no best: 'best' is refused there; 'last' is the last
    from mmengine.config import Config

    from tests.utils import load_tool
    test_tool = load_tool('test')
    plain = Config.fromfile(CFG)
    plain.work_dir = work
    with pytest.raises(FileNotFoundError, match='keeps no best checkpoint'):
        test_tool.resolve_checkpoint('best', plain)
    assert test_tool.resolve_checkpoint('last', Config(dict(work_dir=work))).endswith(
        'iter_6.pth')
    load_tool('analysis_tools/summarize_seeds').main([work])
    assert f"(step {best['step']})" in capsys.readouterr().out


def test_predictions_into_an_input_folder_are_refused(tmp_path, voc_copy, monkeypatch):
    """Fails before the fix: --out at the GT folder wrote each prediction over the GT mask
    of the same name (mmseg's IoUMetric writes <img stem>.png), and --show-dir at the
    image folder wrote among the images."""
    import pytest

    from tests.utils import load_tool
    test_tool = load_tool('test')
    ckpt = tmp_path / 'x.pth'
    ckpt.write_bytes(b'')  # never read: the check comes first
    gt = osp.join(voc_copy, 'SegmentationClassAug')
    before = sorted(os.listdir(gt))
    for flag, out, what in (('--out', gt, 'is the GT label map folder'),
                            ('--show-dir', osp.join(voc_copy, 'JPEGImages', 'vis'),
                             'lies inside the image folder')):
        monkeypatch.setattr(sys, 'argv', [
            'test.py', CFG, str(ckpt), '--work-dir', str(tmp_path / 'w'), flag, out,
            '--cfg-options', f'test_dataloader.dataset.data_root={voc_copy}'])
        with pytest.raises(SystemExit, match=f'{flag} {out} {what}'):
            test_tool.main()
    assert sorted(os.listdir(gt)) == before
    assert not osp.exists(osp.join(voc_copy, 'JPEGImages', 'vis'))


def test_out_is_locked_for_the_whole_run(tmp_path, monkeypatch):
    """Fails before the fix: a second tools/test.py --out into a folder another run was
    writing ran on, and the two runs' predictions mixed in it."""
    import pytest
    import torch
    from mmengine.config import Config
    from mmseg.registry import MODELS

    from mmwsss.outputs import OutputLock
    from tests.utils import load_tool
    test_tool = load_tool('test')
    cfg = Config.fromfile(CFG)
    cfg.model.pop('pretrained', None)
    model = MODELS.build(cfg.model)
    ckpt = tmp_path / 'tiny.pth'
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, ckpt)
    out = str(tmp_path / 'pred')
    monkeypatch.setattr(sys, 'argv', ['test.py', CFG, str(ckpt), '--work-dir',
                                      str(tmp_path / 'w'), '--out', out])
    with OutputLock(out), pytest.raises(SystemExit, match='is in use by'):
        test_tool.main()
    assert not [f for f in os.listdir(out) if f.endswith('.png')]
