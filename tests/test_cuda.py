"""mmwsss on CUDA: the classifier's train step, PAMR, make_cams and test.py --crf
against the CPU, SyncBN under torchrun with NCCL.

Marked ``cuda`` and skipped without a GPU (CI on CPU skips them cleanly);
``tools/gpu_check.py`` runs them as part a: ``pytest -m cuda tests/test_cuda.py``.
"""
import copy
import json
import os
import os.path as osp
import subprocess
import sys
import uuid

import numpy as np
import pytest
import torch

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = osp.join(ROOT, 'tests', 'configs')
EPS_CFG = osp.join(CONFIGS, 'eps_tiny_voc.py')
FCN_CFG = osp.join(CONFIGS, 'tiny_fcn_voc_pseudo.py')
SYNCBN_CFG = osp.join(CONFIGS, 'tiny_fcn_voc_syncbn.py')

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(),
                       reason='needs CUDA (tools/gpu_check.py runs these on a GPU machine)'),
]


def _run(args, cuda=True, timeout=300, env=None):
    """A tool in a fresh process; ``cuda=False`` hides the GPUs (the CPU reference)."""
    env = dict(os.environ, **(env or {}))
    env['PYTHONPATH'] = os.pathsep.join(p for p in [CONFIGS, ROOT, env.get('PYTHONPATH')] if p)
    if not cuda:
        env['CUDA_VISIBLE_DEVICES'] = ''
    p = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True,
                       timeout=timeout)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    return p.stdout + p.stderr


def _eps_cfg(tmp_path, saliency_loss):
    from mmengine.config import Config
    cfg = Config.fromfile(EPS_CFG)
    cfg.work_dir = str(tmp_path)
    name = f'cuda_{uuid.uuid4().hex[:8]}'  # several Runners in one process
    cfg.experiment_name = name
    cfg.visualizer.name = name
    cfg.model.saliency_loss = saliency_loss
    return cfg


@pytest.mark.parametrize('loss', ['eps', 'ird'])
def test_eps_classifier_train_step_on_cuda(tmp_path, loss):
    """A real batch of the fixture through the data preprocessor, the loss on CUDA,
    backward: finite losses, finite gradients that reach the head and the backbone;
    then two Runner iterations on CUDA."""
    from mmengine.runner import Runner
    sal = dict(type='EPSSaliencyLoss', tau=0.4, lam=0.5) if loss == 'eps' else \
        dict(type='IRDSaliencyLoss', num_iter=2, dilations=(1, 2))
    cfg = _eps_cfg(tmp_path, sal)
    runner = Runner.from_cfg(cfg)
    model = runner.model
    assert next(model.parameters()).is_cuda
    # a loader of its own: the Runner's infinite sampler must start fresh in train()
    batch = next(iter(Runner.build_dataloader(copy.deepcopy(cfg.train_dataloader))))
    data = model.data_preprocessor(batch, True)
    assert data['inputs'].is_cuda
    losses = model.loss(**data)
    assert set(losses) >= {'loss_cls', 'loss_sal'}
    assert all(torch.isfinite(v).all() for v in losses.values())
    assert 0 <= losses['loss_sal'].item() <= 1
    model.zero_grad()
    (losses['loss_cls'] + losses['loss_sal']).backward()
    head = model.conv_cls.weight.grad
    assert head is not None and head.is_cuda and torch.isfinite(head).all() and head.abs().sum() > 0
    grads = [p.grad for n, p in model.backbone.named_parameters() if p.requires_grad]
    assert grads and all(g is not None and torch.isfinite(g).all() for g in grads)
    assert sum(g.abs().sum() for g in grads) > 0
    model.zero_grad(set_to_none=True)

    head0 = model.conv_cls.weight.detach().clone()
    runner.train()
    rows = [json.loads(ln) for ln in open(next(tmp_path.glob('*/vis_data/scalars.json')))]
    rows = [r for r in rows if 'loss_sal' in r]
    assert len(rows) == 2 and all(np.isfinite(r['loss']) for r in rows)
    assert 'memory' in rows[0]  # mmengine logs GPU memory on CUDA only
    assert not torch.equal(model.conv_cls.weight.detach(), head0)


def test_pamr_on_cuda_equals_cpu():
    from mmwsss.models import PAMR
    g = torch.Generator().manual_seed(0)
    image = torch.rand(2, 3, 64, 48, generator=g)
    mask = torch.rand(2, 5, 16, 12, generator=g).softmax(1)
    pamr = PAMR()  # 10 rounds, dilations 1-24: the replicate border on every side
    cpu = pamr(image, mask)
    gpu = pamr(image.cuda(), mask.cuda().requires_grad_())
    torch.testing.assert_close(gpu.detach().cpu(), cpu, rtol=0, atol=1e-5)
    gpu.sum().backward()  # differentiable w.r.t. the mask on CUDA too


def test_make_cams_on_cuda_equals_cpu(tmp_path):
    """The same checkpoint's CAM store written on CUDA (mmwsss.apis.write_cam_store)
    and on the CPU (tools/make_cams.py with the GPUs hidden)."""
    from mmengine.config import Config
    from mmseg.registry import MODELS

    from mmwsss.apis import CAMSettings, write_cam_store
    torch.manual_seed(0)
    ckpt = str(tmp_path / 'eps.pth')
    torch.save({'state_dict': MODELS.build(Config.fromfile(EPS_CFG).model).state_dict()}, ckpt)
    cpu_dir, gpu_dir = str(tmp_path / 'cpu'), str(tmp_path / 'gpu')
    args = ['--scales', '0.5', '1.0', '--dtype', 'float16']
    _run([sys.executable, osp.join(ROOT, 'tools', 'make_cams.py'), EPS_CFG, ckpt,
          '--out-dir', cpu_dir, '--work-dir', str(tmp_path / 'w_cpu')] + args, cuda=False)
    cfg = Config.fromfile(EPS_CFG)
    cfg.work_dir = str(tmp_path / 'w_gpu')
    allocs = torch.cuda.memory_stats().get('allocation.all.allocated', 0)
    written, kept = write_cam_store(cfg, ckpt, gpu_dir,
                                    CAMSettings(dtype='float16', scales=[0.5, 1.0]))
    # the model ran on the GPU
    assert torch.cuda.memory_stats()['allocation.all.allocated'] > allocs
    names = sorted(f for f in os.listdir(cpu_dir) if f.endswith('.npz'))
    assert written == len(names) == 4 and kept == 0
    assert sorted(f for f in os.listdir(gpu_dir) if f.endswith('.npz')) == names
    for name in names:
        with np.load(osp.join(cpu_dir, name)) as a, np.load(osp.join(gpu_dir, name)) as b:
            assert a['keys'].tolist() == b['keys'].tolist()
            # TF32 convolutions and float16 storage: close, not equal
            np.testing.assert_allclose(b['cams'].astype(np.float32),
                                       a['cams'].astype(np.float32), rtol=0, atol=2e-2)


@pytest.fixture(scope='module')
def fcn_checkpoint(tmp_path_factory):
    """tools/train.py of the tiny FCN, on CUDA."""
    work = str(tmp_path_factory.mktemp('fcn_cuda'))
    _run([sys.executable, osp.join(ROOT, 'tools', 'train.py'), FCN_CFG, '--work-dir', work])
    return work, osp.join(work, 'iter_4.pth')


def test_test_tool_crf_on_cuda(tmp_path, fcn_checkpoint):
    """tools/test.py --crf with the network on CUDA (its probabilities go to the CPU
    for the CRF): the same predictions as the whole run on the CPU."""
    pytest.importorskip('pydensecrf.densecrf', reason='DenseCRF needs the crf extra')
    work, ckpt = fcn_checkpoint
    preds = {}
    for dev in ('cuda', 'cpu'):
        out = str(tmp_path / dev)
        log = _run([sys.executable, osp.join(ROOT, 'tools', 'test.py'), FCN_CFG, ckpt,
                    '--work-dir', work, '--out', out, '--crf', '--crf-workers', '2'],
                   cuda=dev == 'cuda')
        assert 'mIoU' in log
        names = sorted(os.listdir(out))
        assert names == ['2007_000033.png', '2010_000001.png']
        from PIL import Image
        preds[dev] = {n: np.asarray(Image.open(osp.join(out, n))) for n in names}
    for n, a in preds['cuda'].items():
        b = preds['cpu'][n]
        assert a.shape == b.shape
        assert (a == b).mean() > 0.99, f'{n}: CUDA and CPU predictions differ'


def test_syncbn_under_torchrun_with_nccl(tmp_path):
    """tools/dist_train.sh with SyncBN kept: 2 ranks when there are 2 GPUs, else one
    (world size 1: NCCL process group and DDP, though torch's SyncBatchNorm then
    needs no exchange)."""
    import socket
    nproc = min(2, torch.cuda.device_count())
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    work = tmp_path / 'work'
    _run(['bash', osp.join(ROOT, 'tools', 'dist_train.sh'), SYNCBN_CFG, str(nproc),
          '--work-dir', str(work)], env=dict(PYTHON=sys.executable, PORT=str(port)))
    records = [json.loads((work / f'dist_env_rank{r}.json').read_text()) for r in range(nproc)]
    for r, rec in enumerate(records):
        assert rec['backend'] == 'nccl' and rec['world_size'] == nproc
        assert rec['device'] == f'cuda:{r}' and rec['wrapper'] == 'MMDistributedDataParallel'
        assert rec['sync_bn_layers'] > 0  # kept: SyncBN is not turned into BN with CUDA
    w = [torch.load(work / f'final_rank{r}.pth') for r in range(nproc)]
    assert all(torch.equal(w[0][k], x[k]) for x in w[1:] for k in w[0])  # DDP in sync
    # SyncBN: the same batch statistics on every rank (DDP does not broadcast buffers)
    assert all(x['running_means'] == records[0]['running_means'] for x in records[1:])
    seen = [(work / f'seen_rank{r}.txt').read_text().split()[1::2] for r in range(nproc)]
    assert nproc == 1 or not set(seen[0]) & set(seen[1])  # each rank its own images
