"""DeepLab-V2's ResNet as WSSS-BED runs it: mmseg's ResNet, its stem pooling rounded up."""
import torch.nn as nn
from mmseg.models.backbones import ResNet
from mmseg.registry import MODELS


@MODELS.register_module()
class DeepLabV2ResNet(ResNet):
    """mmseg's ``ResNet`` with the stem of the DeepLab-V2 ResNet that WSSS-BED
    trains (kazuto1011/deeplab-pytorch's ``_Stem``): the 3×3 stride-2 max pool
    rounds its output size up (``ceil_mode=True``) where mmseg's rounds down.

    The sizes differ for an even stem output: a 321 crop gives logits of 41
    here and in mmseg, but its 0.5 and 0.75 copies (160 and 240 pixels) give 21
    and 31 here, 20 and 30 with mmseg's stem. No weights change, so mmseg
    ``ResNet`` checkpoints load as they are.

    Args:
        **kwargs: ``ResNet``'s arguments (DeepLab-V2: ``style='caffe'``,
            ``contract_dilation=False``, strides (1, 2, 1, 1), dilations
            (1, 1, 2, 4)).

    Shapes:
        the first convolution's (B, C, h, w) output pools to (B, C, h // 2 + 1,
        w // 2 + 1); mmseg's to (B, C, ceil(h / 2), ceil(w / 2)).
    """

    def _make_stem_layer(self, in_channels: int, stem_channels: int) -> None:
        super()._make_stem_layer(in_channels, stem_channels)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1, ceil_mode=True)
