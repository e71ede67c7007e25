"""tools/dist_train.sh with 2 CPU processes (gloo) on the VOC fixture."""
import os
import os.path as osp
import socket
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config

from mmwsss.errors import WSSSConfigError
from mmwsss.parallel.dist import batch_note, recipe_batch, recipe_gpus

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CFG = osp.join(ROOT, 'tests', 'configs', 'seg_tiny_deeplabv2_voc.py')


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def cpu_env():
    env = dict(os.environ)
    env.update(CUDA_VISIBLE_DEVICES='', PYTHON=sys.executable, OMP_NUM_THREADS='1',
               PORT=str(free_port()),
               PYTHONPATH=osp.join(ROOT, 'tests', 'configs') + os.pathsep + ROOT)
    return env


def test_dist_train_two_cpu_ranks(tmp_path, voc_copy):
    work = tmp_path / 'work'
    # 2 ranks x batch 1 x 2 iterations = one pass over the 4 fixture images; the
    # image-level labels derived from the GT masks (built by one rank, cached)
    p = subprocess.run(
        ['bash', osp.join(ROOT, 'tools', 'dist_train.sh'), CFG, '2', '--work-dir', str(work),
         '--cfg-options', 'train_cfg.max_iters=2', 'train_cfg.val_interval=2',
         'param_scheduler.0.end=2', f'train_dataloader.dataset.data_root={voc_copy}',
         'train_dataloader.dataset.cls_label_file=None'],
        env=cpu_env(), cwd=tmp_path, capture_output=True, text=True, timeout=300)
    out = p.stdout + p.stderr
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    # the CPU fallback is said, once for the job
    assert out.count('No CUDA: training runs DDP over gloo on CPU processes') == 1, out
    # and so is a total batch that is not the recipe's (issue 30): 2 ranks x 1 against 20
    assert out.count("total batch 2 (2 processes x 1) is not the recipe's 20 "
                     '(auto_scale_lr.base_batch_size)') == 1, out
    caches = os.listdir(osp.join(voc_copy, 'ImageSets', 'Segmentation', '.mmwsss_cache'))
    assert len(caches) == 1 and 'gt-cls-labels' in caches[0]
    seen = {}
    for r in (0, 1):
        lines = (work / f'seen_rank{r}.txt').read_text().split()
        seen[r] = [osp.basename(x) for x in lines[1::2]]
        assert [int(i) for i in lines[0::2]] == [1, 2]  # both ranks ran both iterations
    assert not set(seen[0]) & set(seen[1])  # each rank its own share
    assert len(set(seen[0]) | set(seen[1])) == 4
    w0 = torch.load(work / 'final_rank0.pth')
    w1 = torch.load(work / 'final_rank1.pth')
    assert w0.keys() == w1.keys() and len(w0) > 0
    assert all(torch.equal(w0[k], w1[k]) for k in w0)  # DDP kept them in sync
    ckpt = torch.load(work / 'iter_2.pth', map_location='cpu', weights_only=False)
    head = 'decode_head.aspp_convs.0.weight'
    assert torch.equal(ckpt['state_dict'][head], w0[head])
    assert ckpt['meta']['iter'] == 2
    # it trained: the head moved away from its N(0, 0.01) init
    assert ckpt['optimizer']['state'], 'optimizer state after 2 SGD steps'
    # dist_test.sh --crf: each rank refines its share in its own worker pool; together
    # they predict every val image and write one protocol
    out = tmp_path / 'pred'
    p = subprocess.run(
        ['bash', osp.join(ROOT, 'tools', 'dist_test.sh'), CFG, str(work / 'iter_2.pth'), '2',
         '--work-dir', str(work), '--crf', '--crf-workers', '1', '--out', str(out)],
        env=cpu_env(), cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    assert 'mIoU' in p.stdout + p.stderr
    val = (ROOT + '/tests/data/voc/ImageSets/Segmentation/val.txt')
    ids = open(val).read().split()
    assert sorted(os.listdir(out)) == sorted(i + '.png' for i in ids)
    protocols = [d for d, _, fs in os.walk(work) if 'protocol.json' in fs]
    assert len(protocols) == 1
    # fails before the fix: mmengine gathered the ranks' metrics through .dist_test/ in
    # the current directory and left it there; now a folder in the work dir, removed
    assert not (tmp_path / '.dist_test').exists() and not (work / '.dist_collect').exists()


def test_the_recipes_batch_is_read_from_the_config_then_its_name(tmp_path):
    """Issue 30: slurm_train.sh took its GPU count from `_Nxb` in the file name, so an own
    config got 4 GPUs silently."""

    def cfg(name, batch, scale=None):
        path = tmp_path / name
        path.write_text(f'train_dataloader = dict(batch_size={batch})\n' +
                        (f'auto_scale_lr = {scale!r}\n' if scale else ''))
        return Config.fromfile(path)

    scale = dict(enable=False, base_batch_size=20)
    own = cfg('my_own.py', 10, scale)
    assert recipe_batch(own) == (20, 'auto_scale_lr.base_batch_size') and recipe_gpus(own) == 2
    assert recipe_gpus(cfg('my_own.py', 5, scale)) == 4  # --cfg-options batch_size=5
    assert batch_note(own, 2) is None
    note = batch_note(own, 1)
    assert note.startswith("total batch 10 (1 process x 10) is not the recipe's 20 "
                           '(auto_scale_lr.base_batch_size)')
    assert 'use 2 GPUs (tools/dist_train.sh CONFIG 2)' in note
    assert 'auto_scale_lr.enable=True to scale the learning rate by 10/20' in note
    on = cfg('my_own.py', 10, dict(enable=True, base_batch_size=20))
    assert batch_note(on, 4).endswith('mmengine scales the learning rate by 40/20 '
                                      '(auto_scale_lr.enable=True)')
    # a name alone: read, and the note says to record it
    named = cfg('deeplabv2_r50_4xb4-20k_voc.py', 4)
    assert recipe_gpus(named) == 4 and 'base_batch_size=16' in batch_note(named, 1)
    # neither: no warning, and no GPU count made up
    assert recipe_batch(cfg('my_own.py', 4)) is None and batch_note(cfg('my_own.py', 4), 3) is None
    with pytest.raises(WSSSConfigError, match='records no total batch.*set GPUS=N'):
        recipe_gpus(cfg('my_own.py', 4))
    with pytest.raises(WSSSConfigError, match='batch 3 .* does not divide'):
        recipe_gpus(cfg('my_own.py', 3, scale))


def test_slurm_train_starts_the_recipes_gpu_count(tmp_path):
    """GPUS unset: the recipe's total batch over the per-GPU batch, --cfg-options included
    (a stand-in srun records what it was asked)."""
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    (bin_dir / 'srun').write_text('#!/bin/sh\necho "$@" > "$SRUN_ARGS_FILE"\n')
    (bin_dir / 'srun').chmod(0o755)
    env = dict(cpu_env(), PATH=f'{bin_dir}{os.pathsep}{os.environ["PATH"]}',
               SRUN_ARGS_FILE=str(tmp_path / 'srun.txt'))
    env.pop('GPUS', None)
    leaf = osp.join(ROOT, 'configs', 'wsss',
                    'deeplabv2_r101-d8_2xb10-10k_voc12aug-321x321_cam-vst.py')
    p = subprocess.run(['bash', osp.join(ROOT, 'tools', 'slurm_train.sh'), 'part', 'job', leaf,
                        '--cfg-options', 'train_dataloader.batch_size=5'],
                       env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    srun = (tmp_path / 'srun.txt').read_text()
    assert '--ntasks=4 ' in srun and '--gres=gpu:4 ' in srun and '--launcher=slurm' in srun
