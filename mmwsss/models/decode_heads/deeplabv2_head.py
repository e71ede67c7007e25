from typing import List, Sequence

import torch.nn as nn
from torch import Tensor

from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.registry import MODELS


@MODELS.register_module()
class DeepLabV2Head(BaseDecodeHead):
    """DeepLab-V2 ASPP head (`DeepLab <https://arxiv.org/abs/1606.00915>`_).

    Four parallel 3×3 atrous convolutions go straight from the backbone
    feature to class logits and are summed (ASPP-L of DeepLab-V2), on a
    ResNet-101 with output stride 8. Unlike :class:`mmseg.ASPPHead` there is
    no image pooling branch, no norm, no activation and no shared
    ``conv_seg``: each branch is its own classifier, so ``channels`` is
    unused and ``conv_seg`` is removed.

    Args:
        dilations (Sequence[int]): dilation (= padding) of each branch.
            Default: (6, 12, 18, 24).
        channels (int, optional): unused, kept for the ``BaseDecodeHead``
            interface. Default: the input channels.
        dropout_ratio (float): dropout on the input feature before the
            branches. DeepLab-V2 ResNet has none. Default: 0.
        init_cfg (dict): Normal(std=0.01), bias 0, on the branches, as in
            DeepLab-V2.

    Shapes:
        input: ``inputs[in_index]`` of shape (B, in_channels, h, w).
        output: logits of shape (B, num_classes, h, w).
    """

    def __init__(self,
                 in_channels: int,
                 channels: int = None,
                 dilations: Sequence[int] = (6, 12, 18, 24),
                 dropout_ratio: float = 0.,
                 init_cfg=dict(type='Normal', std=0.01, bias=0.,
                               override=dict(name='aspp_convs')),
                 **kwargs) -> None:
        if channels is None:
            channels = in_channels if isinstance(in_channels, int) else sum(in_channels)
        super().__init__(in_channels, channels, dropout_ratio=dropout_ratio,
                         init_cfg=init_cfg, **kwargs)
        assert isinstance(dilations, (list, tuple)) and len(dilations) > 0
        self.dilations = tuple(dilations)
        # the branches are the classifiers: no 1x1 conv_seg after them
        del self.conv_seg
        self.aspp_convs = nn.ModuleList([
            nn.Conv2d(self.in_channels, self.out_channels, 3, padding=d, dilation=d, bias=True)
            for d in self.dilations
        ])

    def cls_seg(self, feat: Tensor) -> Tensor:
        """Sum of the atrous classifiers: (B, C_in, h, w) → (B, num_classes, h, w)."""
        if self.dropout is not None:
            feat = self.dropout(feat)
        out = self.aspp_convs[0](feat)
        for conv in self.aspp_convs[1:]:
            out = out + conv(feat)
        return out

    def forward(self, inputs: List[Tensor]) -> Tensor:
        """Forward function."""
        x = self._transform_inputs(inputs)
        return self.cls_seg(x)
