"""DeepLabV2Head: four atrous 3x3 classifiers summed, on an output-stride-8 ResNet;
DeepLabV2ResNet: that ResNet with WSSS-BED's stem pooling."""
import pytest
import torch
import torch.nn.functional as F
from mmengine.structures import PixelData
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from mmwsss.models.decode_heads import DeepLabV2Head

init_default_scope('mmseg')  # as the configs' default_scope


def _head(**kw):
    cfg = dict(type='DeepLabV2Head', in_channels=16, num_classes=5, in_index=-1)
    cfg.update(kw)
    return MODELS.build(cfg)


def test_registered_and_no_conv_seg():
    head = _head()
    assert isinstance(head, DeepLabV2Head)
    assert not hasattr(head, 'conv_seg')
    assert [c.dilation for c in head.aspp_convs] == [(6, 6), (12, 12), (18, 18), (24, 24)]
    assert all(c.kernel_size == (3, 3) and c.out_channels == 5 for c in head.aspp_convs)


def test_default_init_is_normal_001_zero_bias():
    torch.manual_seed(0)
    head = _head(in_channels=64, num_classes=21)
    for c in head.aspp_convs:
        torch.nn.init.constant_(c.weight, 1.)
        torch.nn.init.constant_(c.bias, 1.)
    head.init_weights()  # must not look for a conv_seg
    w = torch.cat([c.weight.flatten() for c in head.aspp_convs])
    assert abs(w.std().item() - 0.01) < 0.001 and abs(w.mean().item()) < 0.001
    assert all(torch.all(c.bias == 0) for c in head.aspp_convs)


def test_forward_is_the_sum_of_the_atrous_branches():
    torch.manual_seed(0)
    head = _head(dilations=(1, 2, 3, 4))
    head.init_weights()
    x = torch.randn(2, 16, 9, 11)
    out = head([torch.zeros(1), x])  # in_index=-1
    ref = sum(F.conv2d(x, c.weight, c.bias, padding=d, dilation=d)
              for c, d in zip(head.aspp_convs, (1, 2, 3, 4)))
    assert out.shape == (2, 5, 9, 11)
    torch.testing.assert_close(out, ref)
    # each branch contributes: dropping one changes the output
    head.aspp_convs[2].weight.data.zero_()
    head.aspp_convs[2].bias.data.zero_()
    assert not torch.allclose(head([x]), out)


def test_loss_backpropagates_into_every_branch():
    torch.manual_seed(0)
    head = _head()
    head.init_weights()
    x = torch.randn(2, 16, 8, 8, requires_grad=True)
    samples = []
    for _ in range(2):
        s = SegDataSample()
        label = torch.randint(0, 5, (1, 32, 32))
        label[:, :4] = 255
        s.gt_sem_seg = PixelData(data=label)
        s.set_metainfo(dict(img_shape=(32, 32), pad_shape=(32, 32)))
        samples.append(s)
    losses = head.loss([x], samples, dict())
    assert torch.isfinite(losses['loss_ce'])
    losses['loss_ce'].backward()
    assert all(c.weight.grad.abs().sum() > 0 and c.bias.grad.abs().sum() > 0
               for c in head.aspp_convs)


def test_on_a_dilated_resnet_the_logits_have_stride_8():
    model = MODELS.build(dict(
        type='EncoderDecoder',
        data_preprocessor=dict(type='SegDataPreProcessor', mean=[0., 0., 0.], std=[1., 1., 1.]),
        backbone=dict(type='ResNet', depth=18, stem_channels=16, base_channels=8,
                      dilations=(1, 1, 2, 4), strides=(1, 2, 1, 1), contract_dilation=True),
        decode_head=dict(type='DeepLabV2Head', in_channels=64, in_index=3, num_classes=21),
        test_cfg=dict(mode='whole')))
    model.init_weights()
    logits = model._forward(torch.randn(1, 3, 64, 48))
    assert logits.shape == (1, 21, 8, 6)


def test_deeplabv2_resnet_pools_its_stem_as_wsss_bed():
    """A 321 crop and its 0.5 and 0.75 copies (160, 240 pixels: even after the stem's
    convolution) give 41, 21 and 31 at stride 8, as WSSS-BED's ResNet (ceil_mode max pool);
    mmseg's ResNet gives 41, 20 and 30. The weights are mmseg's ResNet's."""
    cfg = dict(depth=18, stem_channels=8, base_channels=8, dilations=(1, 1, 2, 4),
               strides=(1, 2, 1, 1), style='caffe', contract_dilation=False)
    ours = MODELS.build(dict(cfg, type='DeepLabV2ResNet'))
    theirs = MODELS.build(dict(cfg, type='ResNet'))
    assert ours.state_dict().keys() == theirs.state_dict().keys()
    ours.load_state_dict(theirs.state_dict())
    with torch.no_grad():
        for size, want, mmseg in ((321, 41, 41), (160, 21, 20), (240, 31, 30)):
            x = torch.randn(1, 3, size, size)
            assert ours(x)[-1].shape[-2:] == (want, want)
            assert theirs(x)[-1].shape[-2:] == (mmseg, mmseg)
        x = torch.randn(1, 3, 321, 321)  # odd sizes: the same network
        torch.testing.assert_close(ours(x)[-1], theirs(x)[-1])


@pytest.mark.parametrize('bad', [dict(dilations=()), dict(dilations=6)])
def test_bad_dilations_rejected(bad):
    with pytest.raises(AssertionError):
        _head(**bad)
