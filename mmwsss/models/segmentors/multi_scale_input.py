"""Multi-scale inputs (DeepLab's MSC): one segmentor run on the image at several
scales, trained on every scale's logits and on their pixel-wise max, tested on
the max. Two plain functions (label resizing, max fusion) and the segmentor."""
from typing import List, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmseg.models.losses import accuracy
from mmseg.models.segmentors import EncoderDecoder
from mmseg.registry import MODELS
from mmseg.utils import OptSampleList, SampleList, add_prefix
from torch import Tensor


def pil_nearest_index(in_size: int, out_size: int) -> Tensor:
    """Source index of each output pixel of PIL's ``Image.resize(NEAREST)``
    along one axis.

    PIL walks the output with a float64 accumulator: ``x = scale / 2``, then
    ``x += scale`` per pixel, the index being ``int(x)``. Where ``(i + 0.5) *
    scale`` is a whole number the accumulated rounding error decides the side,
    so the closed form ``floor((i + 0.5) * scale)`` that
    ``F.interpolate(mode='nearest-exact')`` computes differs from PIL for many
    size pairs (e.g. 8 -> 6, 2 -> 7); the same sum is replayed here.

    Args:
        in_size (int): input length.
        out_size (int): output length.

    Returns:
        Tensor: (out_size,) int64 indices into the input.
    """
    steps = torch.full((out_size, ), in_size / out_size, dtype=torch.float64)
    steps[0] *= 0.5
    # a CPU cumsum adds in order, as PIL's loop
    return steps.cumsum(0).long().clamp_(0, in_size - 1)


def resize_labels(labels: Tensor, size: Sequence[int]) -> Tensor:
    """Label maps resized as PIL's ``Image.resize(NEAREST)`` does (WSSS-BED's
    ``resize_labels``), exactly, with any integer dtype and on any device.

    Args:
        labels (Tensor): (..., H, W) label maps.
        size (Sequence[int]): the output (h, w).

    Returns:
        Tensor: (..., h, w), same dtype and device.
    """
    (h_in, w_in), (h, w) = labels.shape[-2:], tuple(size)
    if (h_in, w_in) == (h, w):
        return labels
    rows = pil_nearest_index(h_in, h).to(labels.device)
    cols = pil_nearest_index(w_in, w).to(labels.device)
    return labels.index_select(-2, rows).index_select(-1, cols)


def max_fuse(logits: Sequence[Tensor]) -> Tensor:
    """Pixel-wise max of logits from several input scales (DeepLab's MSC).

    Args:
        logits (Sequence[Tensor]): (B, C, h_i, w_i) each; the first sets the
            size, the others are resized to it bilinearly (align_corners=False).

    Returns:
        Tensor: (B, C, h_0, w_0).
    """
    size = logits[0].shape[-2:]
    resized = [logits[0]] + [
        x if x.shape[-2:] == size else
        F.interpolate(x, size=size, mode='bilinear', align_corners=False)
        for x in logits[1:]
    ]
    # stack promotes: under autocast the resized maps may be float32, the first float16
    return torch.stack(resized).amax(dim=0)


@MODELS.register_module()
class MultiScaleInputEncoderDecoder(EncoderDecoder):
    """mmseg's ``EncoderDecoder`` with multi-scale inputs, as DeepLab's ``MSC``
    (``DeepLabV2_ResNet101_MSC`` of DeepLab-V2 and WSSS-BED).

    The network runs on the input resized bilinearly (align_corners=False) by
    each of ``scales``; the logits of the other scales are resized to the
    first scale's and their pixel-wise max is taken (:func:`max_fuse`).

    - Training: one loss (the decode head's ``loss_decode``, its
      ``ignore_index``) on each scale's logits and one on the max, summed; the
      label is resized to each output by nearest neighbour exactly as PIL does
      (:func:`resize_labels`): the logits are never upsampled to the label.
      Logged as ``decode.<loss_name>_s<scale>`` and ``decode.<loss_name>_max``,
      with ``decode.acc_seg`` of the first scale. An auxiliary head is trained
      on the first scale's features, as in ``EncoderDecoder``.
    - Test (``predict``, ``encode_decode``, ``_forward``): the max, resized to
      the input as the decode head does.

    The decode head's ``forward`` must return one logits tensor.

    Args:
        scales (Sequence[float]): input scales; the first sets the size of the
            max. Default: (1.0, 0.5, 0.75), WSSS-BED's. With one scale there is
            no max output.
        **kwargs: ``EncoderDecoder``'s arguments.

    Shapes:
        input: (B, 3, H, W).
        training outputs: (B, C, h_s, w_s) per scale s (41, 21 and 31 for
        H = 321 on ``DeepLabV2ResNet`` at output stride 8) and the max at the
        first scale's size.
        test output: (B, C, H, W).
    """

    def __init__(self, scales: Sequence[float] = (1.0, 0.5, 0.75), **kwargs):
        scales = tuple(float(s) for s in scales)
        if not scales or min(scales) <= 0 or len(set(scales)) != len(scales):
            raise ValueError(f'scales must be distinct positive numbers, got {scales}')
        super().__init__(**kwargs)
        self.scales = scales

    def _scale_logits(self, inputs: Tensor) -> Tuple[List[Tensor], List[Tensor]]:
        """The logits at every scale (``scales``' order) and the first scale's features."""
        logits, first = [], None
        for s in self.scales:
            x = inputs if s == 1.0 else F.interpolate(
                inputs, scale_factor=s, mode='bilinear', align_corners=False)
            feats = self.extract_feat(x)
            first = feats if first is None else first
            logits.append(self.decode_head.forward(feats))
        return logits, first

    def _fused_logits(self, inputs: Tensor) -> Tensor:
        logits, _ = self._scale_logits(inputs)
        return max_fuse(logits) if len(logits) > 1 else logits[0]

    def encode_decode(self, inputs: Tensor, batch_img_metas: List[dict]) -> Tensor:
        """The max over the scales, resized to the input: (B, C, H, W)."""
        return self.decode_head.predict_by_feat(self._fused_logits(inputs), batch_img_metas)

    def _forward(self, inputs: Tensor, data_samples: OptSampleList = None) -> Tensor:
        """The max over the scales at the first scale's size."""
        return self._fused_logits(inputs)

    def loss(self, inputs: Tensor, data_samples: SampleList) -> dict:
        """Losses of every scale's logits and of their max.

        Args:
            inputs (Tensor): (B, 3, H, W) images.
            data_samples (list[SegDataSample]): with ``gt_sem_seg`` (1, H, W).

        Returns:
            dict[str, Tensor]: ``decode.<loss_name>_<output>`` per output,
            ``decode.acc_seg``, and the auxiliary head's losses.
        """
        logits, first_feats = self._scale_logits(inputs)
        outputs = {f's{s}': x for s, x in zip(self.scales, logits)}
        if len(logits) > 1:
            outputs['max'] = max_fuse(logits)
        head = self.decode_head
        gt = head._stack_batch_gt(data_samples)  # (B, 1, H, W)
        loss_modules = head.loss_decode if isinstance(head.loss_decode, nn.ModuleList) \
            else [head.loss_decode]
        losses = {}
        for name, out in outputs.items():
            label = resize_labels(gt, out.shape[-2:])
            weight = head.sampler.sample(out, label) if head.sampler is not None else None
            label = label.squeeze(1)
            for module in loss_modules:
                key = f'{module.loss_name}_{name}'
                value = module(out, label, weight=weight, ignore_index=head.ignore_index)
                losses[key] = losses[key] + value if key in losses else value
            if out is logits[0]:
                losses['acc_seg'] = accuracy(out, label, ignore_index=head.ignore_index)
        losses = add_prefix(losses, 'decode')
        if self.with_auxiliary_head:
            losses.update(self._auxiliary_head_forward_train(first_feats, data_samples))
        return losses
