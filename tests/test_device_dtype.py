"""Device and dtype: every tensor made in a forward pass or a loss follows its inputs.

- bf16 autocast on the CPU (what AMP does on a GPU): a train step of each segmentor
  recipe and of the EPS classifier (ResNet-38, ResNet-101) with its EPS and IRD losses,
  and the CAM path into a CAM store;
- float64: the saliency losses, the classification loss and PAMR keep it: output and
  gradients in float64, values that see the inputs' last bits, ``gradcheck`` (a float32
  round trip fails both), and values that agree with float32's;
- the ``meta`` device stands in for a GPU: a tensor made on the CPU inside a loss, PAMR,
  the classifier or the CRF's prediction meets the meta inputs and raises, as it would
  meet CUDA inputs.
"""
import contextlib
import copy
import os.path as osp

import numpy as np
import pytest
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.optim import OptimWrapper
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

import mmwsss  # noqa: F401
from mmwsss.evaluation import CAMStoreWriter
from mmwsss.fileio import CAMStore
from mmwsss.models import PAMR
from mmwsss.models.losses import EPSSaliencyLoss, IRDSaliencyLoss
from mmwsss.models.pamr import pamr_affinity
from mmwsss.models.segmentors.crf_tta import set_refined
from mmwsss.testing import make_classifier_batch
from tests.test_configs import VOC_RECIPES, _batch, _test_model_cfg, load, rel

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
TINY_CLS = osp.join(ROOT, 'tests', 'configs', 'eps_tiny_voc.py')
CLS_RECIPES = {
    'resnet38': 'configs/eps/ird_resnet38_1xb8-20k_voc12aug-448x448.py',
    'r101': 'configs/eps/ird_r101-d8_1xb8-20k_voc12aug-448x448.py',
}
SAL_LOSSES = {
    'eps': lambda: EPSSaliencyLoss(tau=0.4, lam=0.5),
    'ird': IRDSaliencyLoss,
    'ird_literal': lambda: IRDSaliencyLoss(literal=True),
    'ird_refine_scale': lambda: IRDSaliencyLoss(refine_scale=0.5),
    'ird_no_drop': lambda: IRDSaliencyLoss(max_drop=0),
    'eps_ird_drop': lambda: EPSSaliencyLoss(drop=dict(max_drop=0.5)),  # the study's control
}


class CPUAutocastOptimWrapper(OptimWrapper):
    """mmengine's ``AmpOptimWrapper`` on the CPU, which it refuses: ``train_step``'s
    forward runs under bf16 autocast, backward and the step outside it."""

    @contextlib.contextmanager
    def optim_context(self, model):
        with super().optim_context(model), torch.autocast('cpu', dtype=torch.bfloat16):
            yield


@contextlib.contextmanager
def first_layer_dtypes(model: nn.Module):
    """The output dtypes of the model's first convolution or linear layer while
    inside: bf16 shows that autocast really ran the network."""
    layer = next(m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear)))
    seen = []
    handle = layer.register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    try:
        yield seen
    finally:
        handle.remove()


def _sums(params):
    """One number per parameter: a cheap fingerprint of the weights (K-Net has 250M)."""
    return torch.stack([p.detach().float().sum() for p in params])


def _autocast_train_step(model, batch):
    """``train_step`` with the forward under bf16 autocast and an SGD step; checks
    that the network ran in bf16, the loss is finite and the trained weights moved
    and stay finite. Returns the log vars."""
    trained = [p for p in model.parameters() if p.requires_grad]
    ow = CPUAutocastOptimWrapper(torch.optim.SGD(trained, lr=1e-3))
    before = _sums(trained)
    with first_layer_dtypes(model) as seen:
        log_vars = model.train_step(batch, ow)
    after = _sums(trained)
    assert seen and set(seen) == {torch.bfloat16}
    assert all(np.isfinite(float(v)) for v in log_vars.values()), log_vars
    assert torch.isfinite(after).all()  # a NaN gradient would make NaN weights
    assert not torch.equal(before, after)  # backward ran and reached the weights
    return log_vars


# --- bf16 autocast ------------------------------------------------------------------------
@pytest.mark.parametrize('path', VOC_RECIPES, ids=rel)
def test_segmentor_train_step_under_bf16_autocast(path):
    """The model each recipe builds (BN for SyncBN, no download, 64×64, as
    tests/test_configs.py builds it)."""
    torch.manual_seed(0)
    model = MODELS.build(_test_model_cfg(load(path))).train()
    _autocast_train_step(model, _batch(21))


@pytest.fixture(scope='module', params=sorted(CLS_RECIPES))
def classifier(request):
    """The recipe's EPS classifier at full width, no download, 64×64 crops."""
    cfg = Config.fromfile(osp.join(ROOT, CLS_RECIPES[request.param]))
    cfg.model.backbone.init_cfg = None
    cfg.model.data_preprocessor.size = (64, 64)
    torch.manual_seed(0)
    return MODELS.build(cfg.model)


@pytest.mark.parametrize('loss', ['eps', 'ird'])
def test_classifier_train_step_under_bf16_autocast(classifier, loss):
    model = classifier.train()
    model.loss_sal = SAL_LOSSES[loss]()
    batch = make_classifier_batch(64, 2, model.num_classes)
    log_vars = _autocast_train_step(model, batch)
    assert {'loss_cls', 'loss_sal'} <= set(log_vars)
    # the losses widen autocast's bf16 logits: computed (and logged) in float32
    ow = CPUAutocastOptimWrapper(torch.optim.SGD(model.parameters(), lr=0))
    with torch.no_grad(), ow.optim_context(model):
        losses = model(**model.data_preprocessor(batch, True), mode='loss')
    assert {k: v.dtype for k, v in losses.items()} == dict.fromkeys(losses, torch.float32)


def test_cams_under_bf16_autocast_into_a_cam_store(classifier, tmp_path):
    """``EPSClassifier.predict`` (``tools/make_cams.py``'s test step) under bf16
    autocast: float32 CAMs close to the float32 run's, written by the CAM store
    writer and read back."""
    model = copy.deepcopy(classifier).eval()
    model.cam_scales = (0.5, 1.0)  # with flips: the code path of four scales, cheaper
    batch = make_classifier_batch(64, 1, model.num_classes, seed=1)
    batch['data_samples'][0].set_metainfo(dict(img_path='img/gen_0.jpg'))
    ref = model.test_step(copy.deepcopy(batch))[0].pred_cams.data
    with torch.autocast('cpu', dtype=torch.bfloat16), first_layer_dtypes(model) as seen:
        sample = model.test_step(batch)[0]
    assert set(seen) == {torch.bfloat16}
    cams = sample.pred_cams.data
    assert cams.dtype == torch.float32 and cams.shape == ref.shape
    assert torch.isfinite(cams).all() and cams.min() >= 0 and cams.max() < 1
    # bf16 keeps 8 bits of mantissa: CAMs within a few uint8 steps (1/255) of float32's
    torch.testing.assert_close(cams, ref, rtol=0, atol=0.02)
    writer = CAMStoreWriter(out_dir=str(tmp_path), cam_format='npz')
    writer.process({}, [sample.to_dict()])
    stored, keys = CAMStore(str(tmp_path), 'npz').load('gen_0')
    assert keys == sample.cam_classes
    np.testing.assert_allclose(stored / 255, cams.numpy(), rtol=0, atol=0.5 / 255 + 1e-6)


# --- float64 ------------------------------------------------------------------------------
def _loss_inputs(dtype=torch.float64, device='cpu'):
    """logits B×(C+1)×h×w, saliency B×1×H×W, labels B×C, image B×3×H×W."""
    g = torch.Generator().manual_seed(0)
    logits = 2 * torch.randn(2, 4, 6, 6, generator=g, dtype=torch.float64)
    saliency = torch.rand(2, 1, 12, 12, generator=g, dtype=torch.float64)
    labels = torch.tensor([[1., 0., 1.], [0., 1., 0.]], dtype=torch.float64)
    image = torch.rand(2, 3, 12, 12, generator=g, dtype=torch.float64)
    return [t.to(device=device, dtype=dtype) for t in (logits, saliency, labels, image)]


def _f32_rounded(x: torch.Tensor) -> torch.Tensor:
    """``x`` with the bits float32 has not: a float64 computation tells them apart."""
    return x.detach().float().to(x.dtype)


def check_float64(fn, inputs, f32_value, num_differentiable=None):
    """``fn`` of float64 ``inputs``, the first ``num_differentiable`` (default
    all) differentiated: a float64 value that sees the last bits of every input
    (a float32 round trip inside would not) and agrees with the float32 run's;
    float64 gradients that pass ``gradcheck``."""
    n = len(inputs) if num_differentiable is None else num_differentiable
    inputs = [x.detach().requires_grad_(i < n) for i, x in enumerate(inputs)]
    out = fn(*inputs)
    assert out.dtype == torch.float64
    out.backward()
    assert all(x.grad.dtype == torch.float64 and x.grad.abs().sum() > 0 for x in inputs[:n])
    for i, x in enumerate(inputs):
        rounded = [_f32_rounded(y) if j == i else y.detach() for j, y in enumerate(inputs)]
        assert fn(*rounded).item() != out.item(), f'input {i} is used in float32'
    assert out.item() == pytest.approx(f32_value, rel=1e-5, abs=1e-7)
    assert torch.autograd.gradcheck(fn, inputs, fast_mode=True)


@pytest.mark.parametrize('name', SAL_LOSSES)
def test_saliency_loss_keeps_float64(name):
    loss = SAL_LOSSES[name]()
    logits, saliency, labels, image = _loss_inputs()
    f32 = loss(*_loss_inputs(torch.float32))
    assert f32.dtype == torch.float32
    check_float64(lambda x, s: loss(x, s, labels, image), (logits, saliency), f32.item())


def test_pamr_keeps_float64_and_computes_half_precision_in_float32():
    pamr = PAMR(num_iter=3, dilations=(1, 2, 4))
    _, _, _, image = _loss_inputs()
    g = torch.Generator().manual_seed(1)
    mask = torch.rand(2, 3, 6, 6, generator=g, dtype=torch.float64)
    weights = torch.rand(2, 3, 12, 12, generator=g, dtype=torch.float64)  # a scalar output
    f32 = (pamr(image.float(), mask.float()) * weights).sum().item()
    # no gradient through the image (the affinity): its bits are checked, not differentiated
    check_float64(lambda m, x: (pamr(x, m) * weights).sum(), (mask, image), f32, 1)
    # half precision in, the same dtype out, computed in float32: 8·D neighbours
    # a round, each rounded to bf16 / fp16, would drift further than one rounding
    for dt in (torch.float16, torch.bfloat16):
        img, m = image.to(dt), mask.to(dt)
        out = pamr(img, m)
        assert out.dtype == dt
        torch.testing.assert_close(out.float(), pamr(img.float(), m.float()), rtol=0,
                                   atol=torch.finfo(dt).eps / 2)
    # in float16 the affinity's 1e-8 was 0: a flat patch divided 0 by 0
    flat = pamr_affinity(torch.full((1, 3, 8, 8), 0.5, dtype=torch.float16), [1, 2])
    assert flat.dtype == torch.float32 and torch.isfinite(flat).all()


@pytest.fixture(scope='module')
def tiny_classifier():
    """The tiny EPS classifier of the VOC fixture (IRD loss), in eval mode (no
    dropout: deterministic), and a preprocessed batch."""
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(TINY_CLS).model).eval()
    data = model.data_preprocessor(make_classifier_batch(32, 2, model.num_classes), True)
    return model, data


def test_classifier_losses_keep_float64(tiny_classifier):
    """A float64 classifier: float64 losses and gradients, values as float32's; and
    its classification loss (with the saliency loss) on float64 logits."""
    model, data = tiny_classifier
    m64 = copy.deepcopy(model).double()
    x = data['inputs'].double().requires_grad_()
    losses = m64.loss(x, data['data_samples'])
    ref = model.loss(data['inputs'], data['data_samples'])
    for k in ('loss_cls', 'loss_sal'):
        assert losses[k].dtype == torch.float64, k
        assert losses[k].item() == pytest.approx(ref[k].item(), rel=1e-5, abs=1e-7), k
    (losses['loss_cls'] + losses['loss_sal']).backward()
    assert x.grad.dtype == m64.conv_cls.weight.grad.dtype == torch.float64

    # the losses of EPSClassifier.loss on given logits (in place of the network's)
    logits = m64._forward(x).detach()

    def loss_of(key, dtype=torch.float64):
        def fn(lg):
            m = m64 if dtype == torch.float64 else model
            m._forward = lambda inputs: lg  # the instance's, over the class's
            try:
                return m.loss(x.to(dtype), data['data_samples'])[key]
            finally:
                del m._forward
        return fn

    for key in ('loss_cls', 'loss_sal'):
        f32 = loss_of(key, torch.float32)(logits.float()).item()
        check_float64(loss_of(key), (logits, ), f32)


# --- device (meta for a GPU) --------------------------------------------------------------
@pytest.mark.parametrize('name', SAL_LOSSES)
def test_saliency_loss_runs_on_the_device_of_its_inputs(name):
    logits, saliency, labels, image = _loss_inputs(torch.float32, 'meta')
    logits.requires_grad_()
    out = SAL_LOSSES[name]()(logits, saliency, labels, image)
    out.backward()
    assert out.device.type == logits.grad.device.type == 'meta'


def test_pamr_runs_on_the_device_of_its_inputs():
    _, _, _, image = _loss_inputs(torch.float32, 'meta')
    mask = torch.rand(2, 3, 6, 6).to('meta').requires_grad_()
    out = PAMR()(image, mask)
    out.sum().backward()
    assert out.device.type == mask.grad.device.type == 'meta'


def test_classifier_loss_and_cams_on_the_device_of_the_inputs(tiny_classifier):
    """The data samples stay on the CPU: the classifier moves their labels and
    saliency maps to the inputs' device."""
    model, data = tiny_classifier
    model = copy.deepcopy(model).to('meta')
    x = data['inputs'].to('meta')
    losses = model.loss(x, data['data_samples'])
    assert {v.device.type for v in losses.values()} == {'meta'}
    (losses['loss_cls'] + losses['loss_sal']).backward()
    assert model.conv_cls.weight.grad.device.type == 'meta'
    samples = model.predict(x, copy.deepcopy(data['data_samples']))
    assert all(s.pred_cams.data.device.type == 'meta' for s in samples)


def test_crf_prediction_stays_on_the_device_of_the_predictions():
    """``set_refined``: the CRF ran on the CPU; the refined labels and scores go
    back to the device the segmentor's predictions were on."""
    sample = SegDataSample()
    sample.set_data(dict(
        pred_sem_seg=PixelData(data=torch.zeros(1, 4, 4, dtype=torch.long, device='meta')),
        seg_logits=PixelData(data=torch.zeros(2, 4, 4, device='meta'))))
    refined = np.full((2, 4, 4), 0.5, np.float32)
    refined[1, :2] = 0.9
    set_refined(sample, refined)
    assert sample.pred_sem_seg.data.device.type == 'meta'
    assert sample.seg_logits.data.device.type == 'meta'
    # on the CPU, the values
    sample.set_data(dict(pred_sem_seg=PixelData(data=torch.zeros(1, 4, 4, dtype=torch.long))))
    set_refined(sample, refined)
    assert torch.equal(sample.pred_sem_seg.data[0], torch.from_numpy(refined.argmax(0)))
    assert torch.equal(sample.seg_logits.data, torch.from_numpy(refined))
