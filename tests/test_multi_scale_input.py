"""MultiScaleInputEncoderDecoder (DeepLab's MSC as WSSS-BED trains DeepLab-V2): labels
resized as PIL's NEAREST, the max fusion, a train step and a prediction."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import ConfigDict
from mmengine.optim import OptimWrapper
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from PIL import Image

from mmwsss.models.segmentors import MultiScaleInputEncoderDecoder, max_fuse, resize_labels

LOSSES = {'decode.loss_ce_s1.0', 'decode.loss_ce_s0.5', 'decode.loss_ce_s0.75',
          'decode.loss_ce_max'}


def pil_resize(label: np.ndarray, hw) -> np.ndarray:
    """WSSS-BED's resize_labels for one label map: float32 ('F') image, NEAREST."""
    img = Image.fromarray(label.astype(np.float32))
    return np.asarray(img.resize((hw[1], hw[0]), resample=Image.NEAREST)).astype(np.int64)


def test_resize_labels_is_pils_nearest():
    g = torch.Generator().manual_seed(0)
    # the sizes a 321 crop gives at stride 8 for scales 1, 0.75, 0.5; other odd sizes
    cases = [((321, 321), (41, 41)), ((321, 321), (31, 31)), ((321, 321), (21, 21)),
             ((161, 161), (21, 21)), ((375, 500), (47, 63)), ((33, 65), (9, 17)),
             ((8, 8), (6, 6)), ((2, 3), (7, 5)), ((20, 20), (20, 20))]
    # every size pair up to 40 (upsampling too), one axis at a time
    cases += [((i, 1), (o, 1)) for i in range(1, 41) for o in range(1, 41)]
    for (h, w), out in cases:
        label = torch.randint(0, 21, (2, h, w), generator=g)
        label[:, ::3] = 255
        got = resize_labels(label, out)
        assert got.dtype == torch.int64 and got.shape == (2, *out)
        for b in range(2):
            assert np.array_equal(got[b].numpy(), pil_resize(label[b].numpy(), out)), (h, w, out)
    # any integer dtype, extra leading dimensions, values untouched
    u8 = torch.randint(0, 256, (2, 1, 321, 321), generator=g, dtype=torch.uint8)
    got = resize_labels(u8, (21, 21))
    assert got.dtype == torch.uint8 and got.shape == (2, 1, 21, 21)
    assert np.array_equal(got[1, 0].numpy(), pil_resize(u8[1, 0].numpy(), (21, 21)))


def test_max_fuse_against_hand_computed_values():
    a = torch.tensor([[[[1., 5., 0., 0.], [3., -2., 0., 5.]],
                       [[0., 0., 0., -3.], [0., 9., 0., 1.]]]])  # (1, 2, 2, 4): sets the size
    b = torch.tensor([[[[2.]], [[-1.]]]])  # 1x1: a constant
    c = torch.tensor([[[[0., 4.]], [[8., 0.]]]])  # 1x2
    # c resized bilinearly (align_corners=False) to 2x4: output column x samples
    # (x + 0.5) / 2 - 0.5 = -0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped to 1), i.e.
    # [v0, 0.75 v0 + 0.25 v1, 0.25 v0 + 0.75 v1, v1]: [0, 1, 3, 4] and [8, 6, 2, 0]
    expected = torch.tensor([[[[2., 5., 3., 4.], [3., 2., 3., 5.]],
                              [[8., 6., 2., 0.], [8., 9., 2., 1.]]]])
    torch.testing.assert_close(max_fuse([a, b, c]), expected)
    # the gradient reaches each input where it is the max (no ties above)
    a, b, c = (x.clone().requires_grad_() for x in (a, b, c))
    max_fuse([a, b, c]).sum().backward()
    assert a.grad[0].tolist() == [[[0., 1., 0., 0.], [1., 0., 0., 1.]],
                                  [[0., 0., 0., 0.], [0., 1., 0., 1.]]]
    assert b.grad.flatten().tolist() == [2., 0.]
    # bilinear weights sum to 1: c's gradient is the count of the pixels c wins
    assert c.grad[0].sum((1, 2)).tolist() == pytest.approx([3., 6.])


def _model(backbone='DeepLabV2ResNet', **kw):
    """A small stride-8 ResNet under DeepLab-V2's head."""
    norm = dict(type='BN', requires_grad=False)
    cfg = dict(
        type='MultiScaleInputEncoderDecoder',
        data_preprocessor=dict(type='SegDataPreProcessor', mean=[104., 117., 123.],
                               std=[1., 1., 1.], size=(65, 65), pad_val=0, seg_pad_val=255),
        backbone=dict(type=backbone, depth=18, base_channels=8, stem_channels=8,
                      dilations=(1, 1, 2, 4), strides=(1, 2, 1, 1), norm_cfg=norm,
                      norm_eval=True, style='caffe', contract_dilation=False),
        decode_head=dict(type='DeepLabV2Head', in_channels=64, in_index=3, num_classes=5,
                         align_corners=False,
                         loss_decode=dict(type='CrossEntropyLoss', avg_non_ignore=True)),
        train_cfg=dict(), test_cfg=ConfigDict(mode='whole'))
    cfg.update(kw)
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    return model


def _batch(size=(65, 65), seed=0):
    g = torch.Generator().manual_seed(seed)
    inputs, samples = [], []
    for _ in range(2):
        inputs.append(torch.randint(0, 256, (3, *size), generator=g, dtype=torch.uint8))
        label = torch.randint(0, 5, (1, *size), generator=g)
        label[:, :9] = 255
        s = SegDataSample(gt_sem_seg=PixelData(data=label))
        s.set_metainfo(dict(img_shape=size, ori_shape=size))
        samples.append(s)
    return dict(inputs=inputs, data_samples=samples)


def test_registered_with_wsss_beds_scales():
    model = _model()
    assert isinstance(model, MultiScaleInputEncoderDecoder)
    assert model.scales == (1.0, 0.5, 0.75)
    for bad in ((), (1.0, 1.0), (1.0, 0.)):
        with pytest.raises(ValueError, match='scales'):
            _model(scales=bad)


def test_losses_are_wsss_beds_sum_over_scales_and_max():
    """Each output's loss is torch's cross entropy (ignore 255) against the label
    resized as PIL does, at that output's size; no logits are upsampled."""
    model = _model()
    model.train()
    data = model.data_preprocessor(_batch(), True)
    losses = model.loss(data['inputs'], data['data_samples'])
    assert set(losses) == LOSSES | {'decode.acc_seg'}
    logits, _ = model._scale_logits(data['inputs'])
    assert [tuple(x.shape[-2:]) for x in logits] == [(9, 9), (5, 5), (7, 7)]
    outs = dict(zip(('s1.0', 's0.5', 's0.75'), logits), max=max_fuse(logits))
    gt = np.stack([s.gt_sem_seg.data[0].numpy() for s in data['data_samples']])
    for name, out in outs.items():
        label = torch.from_numpy(np.stack([pil_resize(x, out.shape[-2:]) for x in gt]))
        ref = F.cross_entropy(out, label, ignore_index=255)
        torch.testing.assert_close(losses[f'decode.loss_ce_{name}'], ref)


def _train_step(model, data):
    ow = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
    before = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    log_vars = model.train_step(data, ow)
    changed = {n for n, p in model.named_parameters()
               if p.requires_grad and not torch.equal(p.detach(), before[n])}
    return log_vars, changed


@pytest.mark.parametrize('dtype', [None, torch.bfloat16], ids=['fp32', 'autocast-bf16'])
def test_one_train_step_reaches_the_backbone(dtype):
    model = _model()
    model.train()
    with torch.autocast('cpu', dtype=dtype or torch.float32, enabled=dtype is not None):
        log_vars, changed = _train_step(model, _batch())
        logits, _ = model._scale_logits(torch.randn(1, 3, 33, 33))
    assert {x.dtype for x in logits} == {dtype or torch.float32}
    assert LOSSES <= set(log_vars) and 'decode.acc_seg' in log_vars
    log_vars = {k: v.detach().item() for k, v in log_vars.items()}
    assert np.isfinite(log_vars['loss'])
    assert log_vars['loss'] == pytest.approx(sum(log_vars[k] for k in LOSSES), rel=1e-5)
    assert any(n.startswith('backbone.layer1') for n in changed)
    assert any(n.startswith('decode_head.aspp_convs') for n in changed)


def test_predict_is_the_max_over_scales_at_the_input_size():
    model = _model()
    model.eval()
    data = model.data_preprocessor(_batch(size=(47, 70)), False)
    with torch.no_grad():
        out = model.predict(data['inputs'], data['data_samples'])
        fused = max_fuse(model._scale_logits(data['inputs'])[0])
        bare = model.predict(data['inputs'])
    assert fused.shape[-2:] == (7, 9) and model._forward(data['inputs']).shape == fused.shape
    ref = F.interpolate(fused, size=(47, 70), mode='bilinear', align_corners=False)
    for i, sample in enumerate(out):
        assert sample.pred_sem_seg.data.shape == (1, 47, 70)
        torch.testing.assert_close(sample.seg_logits.data, ref[i])
        assert torch.equal(sample.pred_sem_seg.data[0], ref[i].argmax(0))
    assert bare[0].pred_sem_seg.data.shape == (1, 47, 70)


def test_one_scale_is_a_plain_encoder_decoder():
    model = _model(scales=(1.0, ))
    model.eval()
    data = model.data_preprocessor(_batch(), True)
    losses = model.loss(data['inputs'], data['data_samples'])
    assert set(losses) == {'decode.loss_ce_s1.0', 'decode.acc_seg'}
    with torch.no_grad():
        assert torch.equal(model._forward(data['inputs']),
                           model.decode_head(model.extract_feat(data['inputs'])))

