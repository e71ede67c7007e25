"""EPS / EPS++ classifier: localization maps from image-level labels,
explicitly supervised by a saliency map (Lee et al. CVPR'21, EPS++)."""
import warnings
from typing import List, Optional, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModel
from mmengine.structures import PixelData
from mmseg.registry import MODELS

from ..losses.utils import loss_dtype

# The short names of mmwsss <= 0.1 configs, still accepted.
_OLD_LOSS_NAMES = dict(eps='EPSSaliencyLoss', ird='IRDSaliencyLoss', none=None)


def _build_saliency_loss(cfg: Optional[dict]) -> Optional[nn.Module]:
    if cfg is None:
        return None
    cfg = dict(cfg)
    if cfg.get('type') in _OLD_LOSS_NAMES:
        new = _OLD_LOSS_NAMES[cfg['type']]
        warnings.warn(f"saliency_loss type {cfg['type']!r} is deprecated: use "
                      f"{'saliency_loss=None' if new is None else repr(new)}",
                      DeprecationWarning)
        if new is None:
            return None
        cfg['type'] = new
    return MODELS.build(cfg)


@MODELS.register_module()
class EPSClassifier(BaseModel):
    """Backbone → dropout → 1×1 conv to C+1 channels (background LAST, as in EPS).

    Training: multi-label BCE on the global-average-pooled C class channels
    plus a saliency loss on the softmax over C+1 (``IRDSaliencyLoss`` or
    ``EPSSaliencyLoss``).
    Inference (``predict``): multi-scale, flipped CAMs of the labelled classes
    (softmax class channels, summed, each divided by its max + 1e-5) at the
    image's full size.

    Args:
        backbone (dict): a stride-8 (or 16) backbone, e.g. ``ResNet38`` or
            ``mmpretrain.ResNet`` with ``strides``/``dilations``. Its last
            output feeds the head.
        num_classes (int): foreground classes C (20 VOC, 80 COCO).
        in_channels (int): channels of the backbone's last output.
        saliency_loss (dict, optional): a registered saliency loss, called
            as ``loss(logits, saliency, labels, image)``:
            ``dict(type='IRDSaliencyLoss')`` (EPS++, the default),
            ``dict(type='EPSSaliencyLoss', tau=0.4, lam=0.5)`` (EPS); None:
            plain CAM (classification loss only).
        loss_cls_weight (float): weight of the classification loss.
        loss_gt_weight (float): semi-supervised EPS++: weight of a pixel-wise
            cross-entropy of the C+1 maps (background last) against the GT mask
            of the images that have one (``gt_subset`` of the dataset,
            ``LoadGTSubsetMask`` in the pipeline), averaged over their labelled
            pixels; 0 (default) turns it off. The seed does not give this
            loss's exact form: this one is ours.
        dropout_ratio (float): Dropout2d before the head (EPS: 0.5).
        cam_scales (Sequence[float]): CAM inference scales.
        cam_flip (bool): add horizontally flipped inputs to the CAM sum.
        cam_norm (str): what a class's CAM is made of, before the sum over
            scales and the division by its max: ``'softmax'`` (default, EPS's):
            the class channel of the softmax over the C+1 channels;
            ``'relu_max'``: WSSS-BED's Eq. 1, the class channel's logit through
            ReLU (for a classifier trained with the classification loss only,
            whose background channel no loss trains).
        data_preprocessor (dict): e.g. ``SegDataPreProcessor`` (pads the
            image with 0 after normalisation; the saliency is padded with 0).
        init_cfg (dict, optional): initialisation config.
    """

    def __init__(self,
                 backbone: dict,
                 num_classes: int,
                 in_channels: int,
                 saliency_loss: Optional[dict] = dict(type='IRDSaliencyLoss'),
                 loss_cls_weight: float = 1.0,
                 loss_gt_weight: float = 0.0,
                 dropout_ratio: float = 0.5,
                 cam_scales: Sequence[float] = (0.5, 1.0, 1.5, 2.0),
                 cam_flip: bool = True,
                 cam_norm: str = 'softmax',
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        self.num_classes = int(num_classes)
        self.dropout = nn.Dropout2d(dropout_ratio) if dropout_ratio > 0 else nn.Identity()
        self.conv_cls = nn.Conv2d(in_channels, self.num_classes + 1, 1, bias=False)
        nn.init.xavier_uniform_(self.conv_cls.weight)  # as EPS's fc8
        self.loss_sal = _build_saliency_loss(saliency_loss)
        self.loss_cls_weight = float(loss_cls_weight)
        self.loss_gt_weight = float(loss_gt_weight)
        self.cam_scales = tuple(float(s) for s in cam_scales)
        self.cam_flip = cam_flip
        if cam_norm not in ('softmax', 'relu_max'):
            raise ValueError(f"cam_norm must be 'softmax' or 'relu_max', got {cam_norm!r}")
        self.cam_norm = cam_norm

    # --- checkpoints -----------------------------------------------------------
    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs):
        key = prefix + 'conv_cls.weight'
        if key in state_dict and state_dict[key].shape[0] != self.num_classes + 1:
            n = state_dict[key].shape[0]
            raise ValueError(
                f'the checkpoint head has {n} output channels ({n - 1} classes + background) '
                f'but the model has num_classes={self.num_classes} '
                f'({self.num_classes + 1} channels): wrong checkpoint or dataset?')
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs)

    # --- network ---------------------------------------------------------------
    def extract_feat(self, inputs: torch.Tensor) -> torch.Tensor:
        feats = self.backbone(inputs)
        return feats[-1] if isinstance(feats, (list, tuple)) else feats

    def _forward(self, inputs: torch.Tensor, data_samples=None) -> torch.Tensor:
        """Logits B×(C+1)×h×w (background last)."""
        return self.conv_cls(self.dropout(self.extract_feat(inputs)))

    def forward(self, inputs, data_samples=None, mode: str = 'tensor'):
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self._forward(inputs, data_samples)
        raise RuntimeError(f'Invalid mode "{mode}". Only supports loss, predict and tensor mode')

    # --- training --------------------------------------------------------------
    def _labels(self, data_samples) -> torch.Tensor:
        labels = torch.stack([ds.gt_cls_label for ds in data_samples]).float()
        if labels.shape[1] != self.num_classes:
            raise ValueError(f'image-level labels have {labels.shape[1]} classes but the model '
                             f'has num_classes={self.num_classes}')
        empty = [ds.metainfo.get('img_path', i) for i, ds in enumerate(data_samples)
                 if not ds.gt_cls_label.any()]
        if empty and self.loss_sal is not None:
            raise ValueError(f'images without any labelled class: {empty}; the saliency '
                             'loss needs at least one')
        return labels

    def _saliency(self, data_samples, inputs: torch.Tensor) -> torch.Tensor:
        """B×1×H×W in [0, 1] on the device and in the dtype of the B×3×H×W
        ``inputs``, padded with 0 (not salient) to their size."""
        size = inputs.shape[-2:]
        out = []
        for ds in data_samples:
            if 'gt_saliency' not in ds:
                raise ValueError(f"{ds.metainfo.get('img_path')}: no saliency map in the data "
                                 'sample; add LoadSaliencyMap to the training pipeline')
            s = ds.gt_saliency.data.to(device=inputs.device, dtype=inputs.dtype) / 255
            h, w = s.shape[-2:]
            out.append(F.pad(s, [0, size[1] - w, 0, size[0] - h], value=0))
        return torch.stack(out)

    def _unit_image(self, inputs: torch.Tensor) -> torch.Tensor:
        """Undo the preprocessor's normalisation: the image in [0, 1]."""
        dp = self.data_preprocessor
        if getattr(dp, '_enable_normalize', False):
            inputs = inputs * dp.std + dp.mean
        return inputs / 255

    def loss(self, inputs: torch.Tensor, data_samples) -> dict:
        logits = self._forward(inputs)
        # at least float32 (autocast's half-precision logits: a mean over every pixel)
        dtype = loss_dtype(logits)
        labels = self._labels(data_samples).to(device=inputs.device, dtype=dtype)
        scores = logits[:, :-1].to(dtype).mean(dim=(2, 3))  # GAP of the C class channels
        losses = dict(loss_cls=self.loss_cls_weight *
                      F.multilabel_soft_margin_loss(scores, labels))
        if self.loss_sal is not None:
            sal = self._saliency(data_samples, inputs)
            losses[self.loss_sal.loss_name] = self.loss_sal(logits, sal, labels,
                                                            self._unit_image(inputs))
        if self.loss_gt_weight > 0:
            losses['loss_gt'] = self.loss_gt_weight * self._gt_mask_loss(logits, data_samples,
                                                                         inputs.shape[-2:])
        with torch.no_grad():  # logged: exact-match accuracy of the multi-label prediction
            losses['acc_cls'] = ((scores > 0) == labels.bool()).all(1).float().mean() * 100
        return losses

    def _gt_mask_loss(self, logits: torch.Tensor, data_samples, size) -> torch.Tensor:
        """Cross-entropy of the (upsampled) C+1 maps against the GT masks of the
        samples that carry one (label 0 bg → channel C, c + 1 → channel c, 255
        and the batch padding ignored); 0 for a batch without GT."""
        target = logits.new_full((len(data_samples), *size), 255, dtype=torch.long)
        for i, ds in enumerate(data_samples):
            if 'gt_sem_seg' not in ds:
                continue
            h, w = ds.metainfo.get('img_shape', size)[:2]
            gt = ds.gt_sem_seg.data[0, :h, :w].to(target.device).long()
            t = gt - 1  # class c + 1 -> channel c
            t[gt == 0] = self.num_classes  # background is the last channel
            t[gt == 255] = 255
            target[i, :h, :w] = t
        if not (target != 255).any():
            return logits.sum() * 0  # keeps the graph (DDP) without a GT image
        up = F.interpolate(logits, size=size, mode='bilinear', align_corners=False)
        return F.cross_entropy(up, target, ignore_index=255)

    # --- CAMs ------------------------------------------------------------------
    @torch.no_grad()
    def generate_cams(self, inputs: torch.Tensor, classes: Union[Sequence[int],
                                                                 torch.Tensor]) -> torch.Tensor:
        """Multi-scale (+ flip) CAMs of one image.

        Args:
            inputs (Tensor): 1×3×H×W normalised image.
            classes (Sequence[int]): K 0-based class ids.

        Returns:
            Tensor: K×H×W CAMs in [0, 1) (each divided by its max + 1e-5; made
            as ``cam_norm`` says), in the
            dtype of ``inputs`` widened to at least float32.
        """
        h, w = inputs.shape[-2:]
        # summed in at least float32: under autocast the logits are half precision
        cam_sum = inputs.new_zeros(self.num_classes, h, w, dtype=loss_dtype(inputs))
        for s in self.cam_scales:
            size = (max(1, round(h * s)), max(1, round(w * s)))
            x = F.interpolate(inputs, size=size, mode='bilinear', align_corners=False)
            if self.cam_flip:
                x = torch.cat([x, x.flip(-1)])
            logits = self._forward(x).to(cam_sum.dtype)
            if self.cam_norm == 'relu_max':  # WSSS-BED Eq. 1 (the max is taken below)
                prob = logits[:, :-1].relu()
            else:
                prob = logits.softmax(dim=1)[:, :-1]
            prob = F.interpolate(prob, size=(h, w), mode='bilinear', align_corners=False)
            cam_sum += prob[0]
            if self.cam_flip:
                cam_sum += prob[1].flip(-1)
        idx = torch.as_tensor(classes, dtype=torch.long, device=inputs.device).reshape(-1)
        cams = cam_sum[idx]
        return cams / (cams.flatten(1).max(dim=1)[0].view(-1, 1, 1) + 1e-5)

    def predict(self, inputs: torch.Tensor, data_samples) -> List:
        """CAMs of the labelled classes of each image.

        Each data sample gets ``pred_cams`` (PixelData K×H×W, the image's size
        before padding) and ``cam_classes`` (metainfo, K class ids).
        """
        for i, ds in enumerate(data_samples):
            classes = ds.gt_cls_label.nonzero().view(-1).tolist()
            h, w = ds.metainfo.get('img_shape', inputs.shape[-2:])[:2]
            cams = self.generate_cams(inputs[i:i + 1, :, :h, :w], classes)
            ds.set_data(dict(pred_cams=PixelData(data=cams)))
            ds.set_metainfo(dict(cam_classes=classes))
        return data_samples
