"""ResNet-38 (the WideResNet-38 "A1" of PSA/EPS), output stride 8.

Module names follow PSA's ``resnet38d.Net`` exactly (``conv1a``, ``b2``,
``b2_1`` ... ``b7``, ``bn7``; inside a block ``bn_branch2a``,
``conv_branch2a``, ``bn_branch2b1``, ``conv_branch2b1``, ``conv_branch1``),
so the converted ImageNet weights PSA/EPS users have
(``ilsvrc-cls_rna-a1_cls1000_ep-0001.pth``, made by PSA's
``convert_mxnet_to_torch``) load as they are:
``init_cfg=dict(type='Pretrained', checkpoint='.../ilsvrc-...pth')``.
"""
import re
from typing import Dict, Optional, Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_norm_layer
from mmengine.model import BaseModule
from mmseg.registry import MODELS


class _Block(BaseModule):
    """Pre-activation block: BN-ReLU then convs (PSA ``ResBlock`` /
    ``ResBlock_bot``). Names are attribute names so state dict keys match."""

    def _norm(self, name: str, channels: int, norm_cfg: dict):
        # build_norm_layer picks the attribute prefix; we need PSA's names.
        setattr(self, name, build_norm_layer(norm_cfg, channels)[1])


class ResBlock(_Block):
    """Two 3×3 convs (PSA ``ResBlock``)."""

    def __init__(self, in_channels, mid_channels, out_channels, stride=1, first_dilation=None,
                 dilation=1, norm_cfg=dict(type='BN')):
        super().__init__()
        self.same_shape = in_channels == out_channels and stride == 1
        first_dilation = dilation if first_dilation is None else first_dilation
        self._norm('bn_branch2a', in_channels, norm_cfg)
        self.conv_branch2a = nn.Conv2d(in_channels, mid_channels, 3, stride,
                                       padding=first_dilation, dilation=first_dilation,
                                       bias=False)
        self._norm('bn_branch2b1', mid_channels, norm_cfg)
        self.conv_branch2b1 = nn.Conv2d(mid_channels, out_channels, 3, padding=dilation,
                                        dilation=dilation, bias=False)
        if not self.same_shape:
            self.conv_branch1 = nn.Conv2d(in_channels, out_channels, 1, stride, bias=False)

    def forward(self, x):
        act = F.relu(self.bn_branch2a(x))
        shortcut = x if self.same_shape else self.conv_branch1(act)
        out = self.conv_branch2a(act)
        out = self.conv_branch2b1(F.relu(self.bn_branch2b1(out)))
        return shortcut + out


class ResBlockBot(_Block):
    """Bottleneck 1×1-3×3-1×1 with dropout (PSA ``ResBlock_bot``)."""

    def __init__(self, in_channels, out_channels, stride=1, dilation=1, dropout=0.,
                 norm_cfg=dict(type='BN')):
        super().__init__()
        self._norm('bn_branch2a', in_channels, norm_cfg)
        self.conv_branch2a = nn.Conv2d(in_channels, out_channels // 4, 1, stride, bias=False)
        self._norm('bn_branch2b1', out_channels // 4, norm_cfg)
        self.dropout_2b1 = nn.Dropout2d(dropout)
        self.conv_branch2b1 = nn.Conv2d(out_channels // 4, out_channels // 2, 3,
                                        padding=dilation, dilation=dilation, bias=False)
        self._norm('bn_branch2b2', out_channels // 2, norm_cfg)
        self.dropout_2b2 = nn.Dropout2d(dropout)
        self.conv_branch2b2 = nn.Conv2d(out_channels // 2, out_channels, 1, bias=False)
        self.conv_branch1 = nn.Conv2d(in_channels, out_channels, 1, stride, bias=False)

    def forward(self, x):
        act = F.relu(self.bn_branch2a(x))
        shortcut = self.conv_branch1(act)
        out = self.conv_branch2a(act)
        out = self.conv_branch2b1(self.dropout_2b1(F.relu(self.bn_branch2b1(out))))
        out = self.conv_branch2b2(self.dropout_2b2(F.relu(self.bn_branch2b2(out))))
        return shortcut + out


@MODELS.register_module()
class ResNet38(BaseModule):
    """WideResNet-38 of PSA/EPS (Wu et al. "Wider or Deeper"), stride 8.

    Stages: ``conv1a`` (3×3, stride 1) → ``b2`` (×3, stride 2) → ``b3`` (×3,
    stride 2) → ``b4`` (×6, stride 2) → ``b5`` (×3, dilation 2) → ``b6``
    (bottleneck, dilation 4) → ``b7`` (bottleneck, dilation 4) → ``bn7``-ReLU.

    Args:
        base_channels (int): width unit; 64 gives PSA's network (4096
            output channels = 64 × ``base_channels``). Smaller values only for
            tests.
        norm_cfg (dict): norm layer. PSA/EPS use frozen BN (``norm_eval``).
        norm_eval (bool): keep BN layers in eval mode and their affine
            parameters frozen while training, as PSA/EPS do.
        frozen_stages (Sequence[str]): modules whose weights are not trained
            (EPS: ``conv1a``, ``b2``, ``b2_1``, ``b2_2``).
        out_indices (Sequence[int]): 0 → ``b5`` input activation (stride 8,
            ``conv4`` of PSA), 1 → ``b6`` input activation (``conv5``),
            2 → final ``bn7``-ReLU feature (``conv6``).
        init_cfg (dict, optional): e.g. ``dict(type='Pretrained',
            checkpoint='ilsvrc-cls_rna-a1_cls1000_ep-0001.pth')``.

    Shapes: input B×3×H×W → output tuple, last B×(64·base)×⌈H/8⌉×⌈W/8⌉.
    """

    def __init__(self,
                 base_channels: int = 64,
                 norm_cfg: dict = dict(type='BN', requires_grad=True),
                 norm_eval: bool = True,
                 frozen_stages: Sequence[str] = ('conv1a', 'b2', 'b2_1', 'b2_2'),
                 out_indices: Sequence[int] = (2, ),
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        c = base_channels
        n = dict(norm_cfg=norm_cfg)
        self.conv1a = nn.Conv2d(3, c, 3, padding=1, bias=False)
        self.b2 = ResBlock(c, 2 * c, 2 * c, stride=2, **n)
        self.b2_1 = ResBlock(2 * c, 2 * c, 2 * c, **n)
        self.b2_2 = ResBlock(2 * c, 2 * c, 2 * c, **n)
        self.b3 = ResBlock(2 * c, 4 * c, 4 * c, stride=2, **n)
        self.b3_1 = ResBlock(4 * c, 4 * c, 4 * c, **n)
        self.b3_2 = ResBlock(4 * c, 4 * c, 4 * c, **n)
        self.b4 = ResBlock(4 * c, 8 * c, 8 * c, stride=2, **n)
        for i in range(1, 6):
            setattr(self, f'b4_{i}', ResBlock(8 * c, 8 * c, 8 * c, **n))
        self.b5 = ResBlock(8 * c, 8 * c, 16 * c, first_dilation=1, dilation=2, **n)
        self.b5_1 = ResBlock(16 * c, 8 * c, 16 * c, dilation=2, **n)
        self.b5_2 = ResBlock(16 * c, 8 * c, 16 * c, dilation=2, **n)
        self.b6 = ResBlockBot(16 * c, 32 * c, dilation=4, dropout=0.3, **n)
        self.b7 = ResBlockBot(32 * c, 64 * c, dilation=4, dropout=0.5, **n)
        self.bn7 = build_norm_layer(norm_cfg, 64 * c)[1]
        self.out_channels = 64 * c
        self.norm_eval = norm_eval
        self.frozen_stages = tuple(frozen_stages)
        if not set(out_indices) <= {0, 1, 2}:
            raise ValueError(f'out_indices must be within (0, 1, 2), got {out_indices}')
        self.out_indices = tuple(out_indices)
        for name in self.frozen_stages:
            if not hasattr(self, name):
                raise ValueError(f'frozen_stages: ResNet38 has no module {name!r}')
        self._freeze()

    def _freeze(self):
        for name in self.frozen_stages:
            for p in getattr(self, name).parameters():
                p.requires_grad = False
        if self.norm_eval:
            for m in self.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    for p in m.parameters():
                        p.requires_grad = False

    def forward(self, x):
        x = self.conv1a(x)
        for name in ('b2', 'b2_1', 'b2_2', 'b3', 'b3_1', 'b3_2', 'b4', 'b4_1', 'b4_2', 'b4_3',
                     'b4_4', 'b4_5'):
            x = getattr(self, name)(x)
        # PSA's conv4/conv5: the BN-ReLU activations entering b5 and b6.
        conv4 = F.relu(self.b5.bn_branch2a(x)) if 0 in self.out_indices else None
        x = self.b5_2(self.b5_1(self.b5(x)))
        conv5 = F.relu(self.b6.bn_branch2a(x)) if 1 in self.out_indices else None
        x = self.b7(self.b6(x))
        conv6 = F.relu(self.bn7(x))
        outs = (conv4, conv5, conv6)
        return tuple(outs[i] for i in self.out_indices)

    def train(self, mode: bool = True):
        super().train(mode)
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.eval()
        return self


_MX_BLOCK = re.compile(r'^(res|bn)(\d)(a|b(\d+))_(branch\w+?)_'
                       r'(weight|gamma|beta|moving_mean|moving_var)$')
_MX_BN7 = re.compile(r'^bn7_(gamma|beta|moving_mean|moving_var)$')
_MX_TO_TORCH = dict(weight='weight', gamma='weight', beta='bias', moving_mean='running_mean',
                    moving_var='running_var')


def resnet38_weights_from_mxnet(params: Dict[str, np.ndarray]) -> Dict[str, torch.Tensor]:
    """:class:`ResNet38` state dict from the MXNet ImageNet model's parameters
    (``ilsvrc-cls_rna-a1_cls1000_ep-0001.params``), renamed as PSA's
    ``convert_mxnet_to_torch`` renames them: ``res3b1_branch2a_weight`` →
    ``b3_1.conv_branch2a.weight``, ``bn2a_branch1_gamma`` → ``b2.bn_branch1.weight``,
    ``bn7_moving_var`` → ``bn7.running_var``. The ImageNet classifier
    (``linear1000_*``) is dropped; any other name is an error, and so are two
    names for one weight (``bn2a_branch2a_gamma`` and ``bn2a_branch2a_weight``),
    a weight that is not floating point, and NaN or infinite values.
    """
    out, source = {}, {}
    for name, value in params.items():
        if name.startswith('linear1000'):
            continue
        if name == 'conv1a_weight':
            key = 'conv1a.weight'
        elif _MX_BN7.match(name):
            key = 'bn7.' + _MX_TO_TORCH[_MX_BN7.match(name).group(1)]
        elif _MX_BLOCK.match(name):
            kind, stage, sub, num, branch, param = _MX_BLOCK.match(name).groups()
            block = f'b{stage}' if sub == 'a' else f'b{stage}_{num}'
            layer = ('conv_' if kind == 'res' else 'bn_') + branch
            key = f'{block}.{layer}.{_MX_TO_TORCH[param]}'
        else:
            raise ValueError(f'unknown ResNet-38 parameter name {name!r}')
        if key in source:  # which one is the model's is not ours to guess
            raise ValueError(f'{source[key]!r} and {name!r} are both {key!r}: the file '
                             'names one weight twice')
        if not np.issubdtype(value.dtype, np.floating):
            raise ValueError(f'{name!r} is {value.dtype}: ImageNet weights are floating '
                             'point (a quantised or damaged file?)')
        with np.errstate(over='ignore'):  # too large for float32: inf, refused below
            weight = np.ascontiguousarray(value, dtype=np.float32)
        bad = int(np.count_nonzero(~np.isfinite(weight)))
        if bad:
            raise ValueError(f'{name!r} holds {bad} NaN or infinite value(s) (as float32) '
                             f'of {weight.size}')
        source[key] = name
        out[key] = torch.from_numpy(weight)
    return out
