"""Faults: SIGKILL mid-run then --resume; a missing pseudo-label folder."""
import os
import os.path as osp
import signal
import subprocess
import sys
import time

import pytest
import torch

from mmwsss.engine.checkpoint import register_checkpoint_safe_globals

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CFG = osp.join(ROOT, 'tests', 'configs', 'seg_tiny_deeplabv2_voc.py')
TRAIN = osp.join(ROOT, 'tools', 'train.py')


def cpu_env():
    env = dict(os.environ)
    env.update(CUDA_VISIBLE_DEVICES='', OMP_NUM_THREADS='1',
               PYTHONPATH=osp.join(ROOT, 'tests', 'configs') + os.pathsep + ROOT)
    return env


def test_sigkill_then_resume_finishes_with_optimizer_state(tmp_path):
    work = tmp_path / 'work'
    opts = ['--cfg-options', 'train_cfg.max_iters=6', 'train_cfg.val_interval=6',
            'param_scheduler.0.end=6', 'custom_hooks.0.sleep=0.5']
    proc = subprocess.Popen([sys.executable, TRAIN, CFG, '--work-dir', str(work)] + opts,
                            env=cpu_env(), cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 180
    while not (work / 'last_checkpoint').exists():
        assert proc.poll() is None, proc.stderr.read()[-3000:]
        assert time.time() < deadline
        time.sleep(0.05)
    time.sleep(0.2)  # the checkpoint file is complete before last_checkpoint
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not (work / 'iter_6.pth').exists()
    last = (work / 'last_checkpoint').read_text().strip()
    killed_at = int(osp.basename(last)[len('iter_'):-len('.pth')])
    assert killed_at in (2, 4)

    p = subprocess.run([sys.executable, TRAIN, CFG, '--work-dir', str(work), '--resume'] + opts,
                       env=cpu_env(), cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    assert (work / 'iter_6.pth').exists()
    final = torch.load(work / 'iter_6.pth', map_location='cpu', weights_only=False)
    assert final['meta']['iter'] == 6
    # right after the resume the optimizer is the one of the checkpoint
    resumed = torch.load(work / 'resumed_rank0.pth', weights_only=False)
    ckpt = torch.load(last, map_location='cpu', weights_only=False)
    assert resumed['iter'] == killed_at
    st_r, st_c = resumed['optimizer']['state'], ckpt['optimizer']['state']
    assert st_c and st_r.keys() == st_c.keys()
    for k in st_c:
        assert torch.equal(st_r[k]['momentum_buffer'], st_c[k]['momentum_buffer'])
    lr_r = [g['lr'] for g in resumed['optimizer']['param_groups']]
    lr_c = [g['lr'] for g in ckpt['optimizer']['param_groups']]
    assert lr_r == lr_c and len(set(lr_r)) == 3  # backbone, ASPP weights (10x), biases (20x)
    # iterations after the resume continue the count: killed_at+1 .. 6
    iters = [int(x) for x in (work / 'seen_rank0.txt').read_text().split()[0::2]]
    assert iters[-(6 - killed_at):] == list(range(killed_at + 1, 7))


class NotAllowed:
    pass


def test_safe_globals_allow_mmengine_checkpoints_only(tmp_path):
    from mmengine.logging import HistoryBuffer, MessageHub
    import numpy as np
    register_checkpoint_safe_globals()
    hub = MessageHub.get_instance('test_resume_hub')
    hub.update_scalar('train/loss', np.float64(0.5))
    hub.update_info('iter', 3)
    path = tmp_path / 'ckpt.pth'
    torch.save(dict(meta=dict(message_hub=hub.state_dict(), seed=np.int64(0)),
                    state_dict={'w': torch.ones(2)}), path)
    ckpt = torch.load(path, weights_only=True)  # the torch >= 2.6 default
    assert isinstance(ckpt['meta']['message_hub']['log_scalars']['train/loss'], HistoryBuffer)
    torch.save(dict(meta=dict(x=NotAllowed())), tmp_path / 'bad.pth')
    with pytest.raises(Exception, match='NotAllowed|Unsupported global|weights_only'):
        torch.load(tmp_path / 'bad.pth', weights_only=True)  # the safety is still on


def test_missing_cam_folder_fails_at_start_with_the_path(tmp_path):
    work = tmp_path / 'work'
    bad = str(tmp_path / 'no_such_cams')
    p = subprocess.run([sys.executable, TRAIN, CFG, '--work-dir', str(work), '--cfg-options',
                        f'train_dataloader.dataset.data_prefix.cam_path={bad}'],
                       env=cpu_env(), cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert p.returncode != 0
    # one message naming the folder, its key and the README section; no traceback
    assert bad in p.stderr and 'data_prefix.cam_path' in p.stderr
    assert 'Preparing the data' in p.stderr and 'Traceback' not in p.stderr
    assert not work.exists() or not list(work.rglob('*.pth'))


def test_a_kill_while_saving_a_checkpoint_loses_nothing(tmp_path, monkeypatch):
    """Fails before the fix (mmengine's CheckpointHook, max_keep_ckpts=1): the old
    checkpoint was removed before the new one was written, so a kill during the save
    left only a partial file and --resume lost every iteration."""
    import mmengine.runner.runner as runner_mod
    from mmengine.config import Config
    from mmengine.runner import Runner
    monkeypatch.syspath_prepend(osp.join(ROOT, 'tests', 'configs'))  # its custom_imports
    cfg = Config.fromfile(CFG)
    cfg.work_dir = str(tmp_path)
    cfg.custom_hooks = []
    cfg.visualizer.name = 'killed_while_saving'
    cfg.default_hooks.checkpoint = dict(type='SafeCheckpointHook', by_epoch=False, interval=2,
                                        max_keep_ckpts=1)
    real_save = runner_mod.save_checkpoint

    def killed_at_iter_4(checkpoint, filename, *args, **kwargs):
        if checkpoint['meta']['iter'] == 4:
            with open(filename, 'wb') as f:
                f.write(b'partial')  # the process dies mid-write
            raise KeyboardInterrupt
        return real_save(checkpoint, filename, *args, **kwargs)

    monkeypatch.setattr(runner_mod, 'save_checkpoint', killed_at_iter_4)
    with pytest.raises(KeyboardInterrupt):
        Runner.from_cfg(cfg).train()
    assert osp.isfile(osp.join(tmp_path, 'iter_2.pth'))  # the last good one is still there
    assert not osp.exists(osp.join(tmp_path, 'iter_4.pth'))
    last = open(osp.join(tmp_path, 'last_checkpoint')).read()
    assert last.endswith('iter_2.pth')
    monkeypatch.setattr(runner_mod, 'save_checkpoint', real_save)
    cfg.resume = True
    cfg.visualizer.name = 'resumed_after_kill'
    runner = Runner.from_cfg(cfg)
    runner.train()  # resumes from iter 2 and finishes
    assert runner.iter == 4 and osp.isfile(osp.join(tmp_path, 'iter_4.pth'))
    assert not osp.exists(osp.join(tmp_path, 'iter_2.pth'))  # max_keep_ckpts=1, after the save


def test_every_shipped_config_saves_checkpoints_safely():
    import glob
    from mmengine.config import Config
    paths = [p for p in glob.glob(osp.join(ROOT, 'configs', '**', '*.py'), recursive=True)
             if '_base_' not in p] + glob.glob(osp.join(ROOT, 'demo', 'configs', '*.py'))
    for p in paths:
        hooks = Config.fromfile(p).get('default_hooks', {})
        if 'checkpoint' in hooks:
            assert hooks['checkpoint']['type'] == 'SafeCheckpointHook', p


def test_resume_with_another_num_classes_says_so(tmp_path):
    """Fails before the fix: --resume with another head crashed deep inside the
    optimizer's state loading instead of naming the mismatch."""
    work = str(tmp_path / 'work')
    p = subprocess.run([sys.executable, TRAIN, CFG, '--work-dir', work], env=cpu_env(),
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    p = subprocess.run([sys.executable, TRAIN, CFG, '--work-dir', work, '--resume',
                        '--cfg-options', 'model.decode_head.num_classes=5'], env=cpu_env(),
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert p.returncode != 0
    assert '--resume' in p.stderr and 'another num_classes' in p.stderr
    assert 'decode_head' in p.stderr and '(21,' in p.stderr


def test_a_kill_while_saving_a_new_best_keeps_the_previous_best(tmp_path, monkeypatch):
    """Fails before the fix: mmengine's save_best removed the previous best_*.pth before
    it wrote the new one under its final name, so a kill during that save left no best
    checkpoint but a partial file, which `tools/test.py CONFIG best` would then load."""
    import mmengine.runner.runner as runner_mod
    from mmengine.config import Config
    from mmengine.runner import Runner
    cfg = Config.fromfile(osp.join(ROOT, 'tests', 'configs', 'tiny_fcn_voc_pseudo.py'))
    cfg.work_dir = str(tmp_path)
    cfg.visualizer.name = 'killed_while_saving_best'
    cfg.default_hooks.checkpoint = dict(type='SafeCheckpointHook', by_epoch=False, interval=4,
                                        save_best='mIoU', rule='greater')
    runner = Runner.from_cfg(cfg)
    hook = next(h for h in runner.hooks if type(h).__name__ == 'SafeCheckpointHook')
    hook.before_train(runner)
    hook._save_best_checkpoint(runner, {'mIoU': 10.0})
    first = osp.join(tmp_path, 'best_mIoU_iter_0.pth')
    assert osp.isfile(first)
    real_save = runner_mod.save_checkpoint

    def killed(checkpoint, filename, *args, **kwargs):
        with open(filename, 'wb') as f:
            f.write(b'partial')  # the process dies mid-write
        raise KeyboardInterrupt

    monkeypatch.setattr(runner_mod, 'save_checkpoint', killed)
    runner.train_loop._iter = 2  # the loop is built lazily: its iteration, as training would
    with pytest.raises(KeyboardInterrupt):
        hook._save_best_checkpoint(runner, {'mIoU': 20.0})
    best = sorted(f for f in os.listdir(tmp_path) if f.startswith('best_'))
    assert best == ['best_mIoU_iter_0.pth']  # the complete previous best, nothing partial
    assert open(first, 'rb').read(7) != b'partial'
    monkeypatch.setattr(runner_mod, 'save_checkpoint', real_save)
    # resumed: the hook's state as the last checkpoint holds it, then a later best replaces it
    hook.best_ckpt_path = first
    runner.message_hub.update_info('best_score', 10.0)
    hook._save_best_checkpoint(runner, {'mIoU': 30.0})
    assert sorted(f for f in os.listdir(tmp_path) if f.startswith('best_')) == \
        ['best_mIoU_iter_2.pth']
