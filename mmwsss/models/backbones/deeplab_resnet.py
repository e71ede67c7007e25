"""DeepLab's released ResNet-101 (MS-COCO "init" model) as mmseg ``ResNet`` weights.

WSSS-BED and EPS train DeepLab-V2 from DeepLab's own starting point: the MSRA
ResNet-101 trained on ImageNet, then on MS-COCO segmentation (Chen et al.,
``init.caffemodel`` in ``deeplab_aspp_resnet101/prototxt_and_model.zip``);
kazuto1011/deeplab-pytorch converts it to ``deeplabv1_resnet101-coco.pth``, which
WSSS-BED's ``seg_networks/DeepLab-V2-Pytorch`` loads (``MODEL.INIT_MODEL``).

Its names map one to one onto mmseg's ``ResNet`` (``style='caffe'``: the stride
of a bottleneck is on its first 1x1 conv, as in MSRA's model), caffemodel layer ->
deeplab-pytorch key -> mmseg key:

- ``conv1``, ``bn_conv1`` + ``scale_conv1`` -> ``layer1.conv1.conv``/``.bn`` ->
  ``conv1``, ``bn1``;
- ``res{S}{B}_branch2a`` (its ``bn``/``scale`` twins) -> ``layer{S}.block{B}.reduce``
  -> ``layer{S-1}.{B}.conv1``/``bn1``; ``branch2b`` -> ``conv3x3`` -> ``conv2``/``bn2``;
  ``branch2c`` -> ``increase`` -> ``conv3``/``bn3``; ``branch1`` -> ``shortcut`` ->
  ``downsample.0``/``downsample.1``;
- the COCO classifier (``fc1_*``; ``fc``, ``aspp``) is dropped;

with caffe's block letters ``a``, ``b``, ``c``... or ``a``, ``b1``, ``b2``... as block
0, 1, 2... (deeplab-pytorch counts blocks from 1). Caffe keeps a BatchNorm's
running sums and their scale factor (third blob): mean and variance are the
sums divided by it. The network expects BGR images minus the mean (104.008,
116.669, 122.675), not divided by a std.
"""
import re
from typing import Dict, List, Tuple

import numpy as np
import torch

BGR_MEAN = (104.008, 116.669, 122.675)
_CONV = {'2a': 'conv1', '2b': 'conv2', '2c': 'conv3', '1': 'downsample.0'}
_BN = {'2a': 'bn1', '2b': 'bn2', '2c': 'bn3', '1': 'downsample.1'}
_TORCH_BRANCH = {'reduce': '2a', 'conv3x3': '2b', 'increase': '2c', 'shortcut': '1'}
_MSC_COPIES = ('res075', 'res05')  # a VOC model's shared multi-scale branches


def _block_index(letters: str) -> int:
    """Caffe's block name after the stage digit: a letter ('a', 'b', ... 'f') or
    'b1' ... 'b22' (the long stages of ResNet-101)."""
    if len(letters) == 1:
        return ord(letters) - ord('a')
    m = re.fullmatch(r'b(\d+)', letters)
    if m is None:
        raise ValueError(f'block {letters!r}')
    return int(m.group(1))


def _caffe_target(name: str) -> Tuple[str, str]:
    """(mmseg module, 'conv' | 'bn' | 'scale') of a caffe layer name, or ('', '')
    for a layer that is not the backbone's."""
    if name == 'conv1':
        return 'conv1', 'conv'
    if name in ('bn_conv1', 'scale_conv1'):
        return 'bn1', name.split('_')[0]
    m = re.fullmatch(r'(res|bn|scale)(\d)([a-z]\d*)_branch(1|2[abc])', name)
    if m is None:
        return '', ''
    kind, stage, block, branch = m.groups()
    module = f'layer{int(stage) - 1}.{_block_index(block)}.'
    module += _CONV[branch] if kind == 'res' else _BN[branch]
    return module, 'conv' if kind == 'res' else kind


def resnet_weights_from_caffe(layers) -> Tuple[Dict[str, torch.Tensor], List[str]]:
    """mmseg ``ResNet`` weights from DeepLab's caffemodel layers.

    Args:
        layers (list[CaffeLayer]): :func:`mmwsss.fileio.caffemodel.read_caffemodel`.

    Returns:
        tuple: the state dict (float32 tensors) and the names of the layers
        with weights left out (the COCO classifier, multi-scale copies).

    Raises:
        ValueError: a layer with unexpected blobs, a weight given twice.
    """
    state, dropped = {}, []

    def put(key, array, layer):
        if key in state:
            raise ValueError(f'{key} is given twice (again by layer {layer!r})')
        state[key] = torch.from_numpy(np.ascontiguousarray(array, np.float32))

    for layer in layers:
        if not layer.blobs:
            continue
        module, kind = _caffe_target(layer.name)
        if not module or any(c in layer.name for c in _MSC_COPIES):
            dropped.append(layer.name)
            continue
        blobs = layer.blobs
        if kind == 'conv':
            if len(blobs) != 1:
                raise ValueError(f'convolution {layer.name!r} has {len(blobs)} blobs (a '
                                 'weight and no bias expected)')
            put(f'{module}.weight', blobs[0], layer.name)
        elif kind == 'bn':
            if len(blobs) != 3 or blobs[2].size != 1:
                raise ValueError(f'BatchNorm {layer.name!r} needs 3 blobs (mean, variance, '
                                 f'scale factor), has {[list(b.shape) for b in blobs]}')
            factor = float(blobs[2].reshape(-1)[0])
            factor = 1.0 / factor if factor != 0 else 0.0  # Caffe's own rule
            put(f'{module}.running_mean', blobs[0].reshape(-1) * factor, layer.name)
            put(f'{module}.running_var', blobs[1].reshape(-1) * factor, layer.name)
        else:  # scale: gamma, beta
            if len(blobs) != 2:
                raise ValueError(f'Scale {layer.name!r} needs 2 blobs (gamma, beta), has '
                                 f'{len(blobs)}')
            put(f'{module}.weight', blobs[0].reshape(-1), layer.name)
            put(f'{module}.bias', blobs[1].reshape(-1), layer.name)
    return state, dropped


def resnet_weights_from_deeplab_pytorch(
        named: Dict[str, torch.Tensor]) -> Tuple[Dict[str, torch.Tensor], List[str]]:
    """mmseg ``ResNet`` weights from deeplab-pytorch's state dict
    (``deeplabv1_resnet101-coco.pth``; a ``base.``/``module.`` prefix is removed).

    Returns:
        tuple: the state dict and the keys left out (``fc``, ``aspp``, BN
        ``num_batches_tracked``).

    Raises:
        ValueError: a key of no known layer (not a deeplab-pytorch ResNet), two keys
            of one weight (``base.x`` beside ``module.base.x``, ``block1`` beside
            ``block01``), naming both.
    """
    state, dropped, source = {}, [], {}
    for key, value in named.items():
        short = re.sub(r'^(module\.)?(base\.)?', '', key)
        if short.startswith(('fc.', 'aspp.')) or short.endswith('num_batches_tracked'):
            dropped.append(key)
            continue
        m = re.fullmatch(r'layer1\.conv1\.(conv|bn)\.(\w+)', short)
        if m:
            target = f"{'conv1' if m.group(1) == 'conv' else 'bn1'}.{m.group(2)}"
        else:
            m = re.fullmatch(r'layer(\d)\.block(\d+)\.(reduce|conv3x3|increase|shortcut)\.'
                             r'(conv|bn)\.(\w+)', short)
            if m is None:
                raise ValueError(f'{key!r} is not a key of a deeplab-pytorch ResNet')
            stage, block, part, kind, param = m.groups()
            branch = _TORCH_BRANCH[part]
            target = (f'layer{int(stage) - 1}.{int(block) - 1}.'
                      f"{_CONV[branch] if kind == 'conv' else _BN[branch]}.{param}")
        if not (isinstance(value, torch.Tensor) and value.is_floating_point()):
            raise ValueError(f'{key!r} is not a floating-point tensor '
                             f'({getattr(value, "dtype", type(value).__name__)})')
        if target in source:  # else the last one would win in silence
            raise ValueError(f'{source[target]!r} and {key!r} are both the weight {target}')
        source[target] = key
        state[target] = value.detach().to(torch.float32).clone()
    return state, dropped
