"""tools/model_converters: the MXNet ImageNet ResNet-38 of PSA/EPS becomes a state
dict that ResNet38 loads strictly, with no MXNet; DeepLab's MS-COCO ResNet-101
(caffemodel or deeplab-pytorch .pth) becomes mmseg ResNet weights, with no Caffe."""
import os.path as osp
import re
import struct

import numpy as np
import pytest
import torch

from mmwsss.fileio.mxnet_params import load_mxnet_params
from mmwsss.models.backbones.resnet38 import ResNet38
from tests.utils import load_tool

convert = load_tool('model_converters/resnet38_mxnet2pth')

_BN = dict(weight='gamma', bias='beta', running_mean='moving_mean', running_var='moving_var')


def mxnet_name(key):
    """PSA name -> the MXNet model's name (the inverse of PSA's renaming), with the
    arg:/aux: prefix MXNet files carry."""
    if key == 'conv1a.weight':
        return 'arg:conv1a_weight'
    if key.startswith('bn7.'):
        p = _BN[key.split('.')[1]]
        return ('aux:' if p.startswith('moving') else 'arg:') + f'bn7_{p}'
    block, layer, param = key.split('.')
    stage, num = re.match(r'b(\d)(?:_(\d+))?$', block).groups()
    sub = 'a' if num is None else f'b{num}'
    kind, branch = layer.split('_', 1)
    if kind == 'conv':
        return f'arg:res{stage}{sub}_{branch}_weight'
    p = _BN[param]
    return ('aux:' if p.startswith('moving') else 'arg:') + f'bn{stage}{sub}_{branch}_{p}'


_FLAGS = {np.dtype(t): f for t, f in (('float32', 0), ('float64', 1), ('float16', 2),
                                       ('uint8', 3), ('int32', 4), ('int8', 5), ('int64', 6))}


def write_params(path, named, version='v2'):
    """An MXNet NDArray list file as MXNet writes it (``mx.nd.save``)."""
    out = [struct.pack('<QQQ', 0x112, 0, len(named))]
    for arr in named.values():
        arr = np.ascontiguousarray(arr)
        if arr.dtype not in _FLAGS:
            arr = arr.astype(np.float32)
        if version == 'legacy':  # before V1: the first uint32 is ndim, dims uint32
            out.append(struct.pack(f'<I{arr.ndim}I', arr.ndim, *arr.shape))
        else:
            magic = dict(v1=0xF993FAC8, v2=0xF993FAC9)[version]
            out.append(struct.pack('<I', magic))
            if version == 'v2':
                out.append(struct.pack('<i', 0))  # dense storage
            out.append(struct.pack(f'<I{arr.ndim}q', arr.ndim, *arr.shape))
        out.append(struct.pack('<iii', 1, 0, _FLAGS[arr.dtype]))  # cpu(0), dtype
        out.append(arr.tobytes())
    out.append(struct.pack('<Q', len(named)))
    for name in named:
        out.append(struct.pack('<Q', len(name)) + name.encode())
    with open(path, 'wb') as f:
        f.write(b''.join(out))


@pytest.fixture(scope='module')
def reference():
    torch.manual_seed(0)
    model = ResNet38(base_channels=8)
    for m in model.modules():  # non-trivial BN statistics
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
    return {k: v for k, v in model.state_dict().items() if 'num_batches' not in k}


@pytest.mark.parametrize('version', ['v2', 'v1', 'legacy'])
def test_converted_weights_load_strictly_and_equal_the_source(tmp_path, reference, version):
    named = {mxnet_name(k): v.numpy() for k, v in reference.items()}
    named['arg:linear1000_weight'] = np.ones((1000, 8 * 64), np.float32)  # dropped
    src, dst = tmp_path / 'a1.params', tmp_path / 'a1.pth'
    write_params(src, named, version)
    assert set(load_mxnet_params(str(src))) == {n.split(':')[1] for n in named}
    convert.main([str(src), str(dst)])
    state = torch.load(dst, weights_only=True)
    model = ResNet38(base_channels=8)
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert not unexpected and all(k.endswith('num_batches_tracked') for k in missing)
    for k, v in reference.items():
        assert torch.equal(model.state_dict()[k], v), k
    # the Pretrained init of the classifier configs reads it as it is
    init = ResNet38(base_channels=8, init_cfg=dict(type='Pretrained', checkpoint=str(dst)))
    init.init_weights()
    assert torch.equal(init.b4_3.conv_branch2b1.weight, reference['b4_3.conv_branch2b1.weight'])
    with pytest.raises(SystemExit, match='exists; use --force'):
        convert.main([str(src), str(dst)])


def test_bad_files_are_named(tmp_path, reference):
    bad = tmp_path / 'x.params'
    bad.write_bytes(b'PK\x03\x04' + bytes(40))
    with pytest.raises(SystemExit, match=r'x\.params.*not an MXNet \.params file'):
        convert.main([str(bad), str(tmp_path / 'o.pth')])
    named = {mxnet_name(k): v.numpy() for k, v in reference.items()}
    write_params(bad, named)
    bad.write_bytes(bad.read_bytes()[:5000])
    with pytest.raises(SystemExit, match='truncated'):
        convert.main([str(bad), str(tmp_path / 'o.pth')])
    named.pop('arg:res4b2_branch2a_weight')
    write_params(bad, named)
    with pytest.raises(SystemExit, match=r"missing \['b4_2.conv_branch2a.weight'\]"):
        convert.main([str(bad), str(tmp_path / 'o.pth')])
    write_params(bad, {'arg:fc_weight': np.zeros(3, np.float32)})
    with pytest.raises(SystemExit, match="unknown ResNet-38 parameter name 'fc_weight'"):
        convert.main([str(bad), str(tmp_path / 'o.pth')])
    assert not (tmp_path / 'o.pth').exists()


def test_one_weight_named_twice_and_non_float_or_nan_weights_are_refused(tmp_path, reference):
    """Fails before the fix: two names for one weight (``bn2a_branch2a_gamma`` and
    ``bn2a_branch2a_weight``) converted with the last one silently winning, and int8 or
    NaN weights converted in silence; an ``arg:`` and an ``aux:`` array of one name gave
    "a parameter name appears twice", naming neither. Now each is an error naming the
    arrays, and nothing is written."""
    named = {mxnet_name(k): v.numpy() for k, v in reference.items()}
    src, dst = tmp_path / 'a1.params', tmp_path / 'a1.pth'
    cases = []
    twice = dict(named, **{'arg:bn2a_branch2a_weight':
                           np.ones_like(named['arg:bn2a_branch2a_gamma'])})
    cases.append((twice, r"'bn2a_branch2a_gamma' and 'bn2a_branch2a_weight' are both "
                         r"'b2\.bn_branch2a\.weight'"))
    cases.append((dict(named, **{'aux:bn7_gamma': named['arg:bn7_gamma']}),
                  r"name 'bn7_gamma' appears twice \('arg:bn7_gamma' and 'aux:bn7_gamma'\)"))
    nan = named['arg:res3a_branch2a_weight'].copy()
    nan.flat[[0, 5]] = [np.nan, np.inf]
    cases.append((dict(named, **{'arg:res3a_branch2a_weight': nan}),
                  r"'res3a_branch2a_weight' holds 2 NaN or infinite"))
    cases.append((dict(named, **{'arg:res4b2_branch2a_weight':
                                 named['arg:res4b2_branch2a_weight'].astype(np.int8)}),
                  r"'res4b2_branch2a_weight' is int8"))
    cases.append((dict(named, **{'aux:bn7_moving_var': np.full_like(
        named['aux:bn7_moving_var'], 1e39, dtype=np.float64)}),
        r"'bn7_moving_var' holds \d+ NaN or infinite value\(s\) \(as float32\)"))
    for params, msg in cases:
        write_params(src, params)
        with pytest.raises(SystemExit, match=msg):
            convert.main([str(src), str(dst)])
        assert not dst.exists()
    write_params(src, dict(named, **{'aux:bn7_moving_var':
                                     named['aux:bn7_moving_var'].astype(np.float16)}))
    convert.main([str(src), str(dst)])  # float16 is a float: converted


# --- DeepLab's MS-COCO ResNet (WSSS-BED's DeepLab-V2 init) -> mmseg ResNet ---------------

deeplab_convert = load_tool('model_converters/deeplabv2_coco2mmseg')
_PART = {'conv1': 'reduce', 'conv2': 'conv3x3', 'conv3': 'increase'}
_BRANCH = {'conv1': '2a', 'conv2': '2b', 'conv3': '2c'}


@pytest.fixture(scope='module')
def deeplab_reference():
    """A tiny caffe-style mmseg ResNet-50 with random weights and BN statistics."""
    from mmseg.models.backbones import ResNet
    torch.manual_seed(0)
    model = ResNet(depth=50, stem_channels=8, base_channels=8, style='caffe')
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.5, 0.5)
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
    return {k: v for k, v in model.state_dict().items() if 'num_batches' not in k}


def deeplab_pytorch_name(key):
    """mmseg key -> kazuto1011/deeplab-pytorch's key (its convert.py's names)."""
    if key.startswith(('conv1.', 'bn1.')):
        kind = 'conv' if key.startswith('conv1.') else 'bn'
        return f'layer1.conv1.{kind}.{key.split(".")[1]}'
    layer, block, module, *rest = key.split('.')
    if module == 'downsample':
        part, kind = 'shortcut', 'conv' if rest[0] == '0' else 'bn'
        rest = rest[1:]
    else:
        part = _PART[module.replace('bn', 'conv')]
        kind = 'conv' if module.startswith('conv') else 'bn'
    return f'layer{int(layer[5:]) + 1}.block{int(block) + 1}.{part}.{kind}.{rest[0]}'


def caffe_layer(key):
    """mmseg key -> (caffe layer name, kind); res4 named a, b1, b2... as in ResNet-101."""
    if key.startswith(('conv1.', 'bn1.')):
        return ('conv1', 'conv') if key.startswith('conv1.') else ('conv_1', 'bn')
    layer, block, module, *rest = key.split('.')
    stage, i = int(layer[5:]) + 1, int(block)
    letters = 'a' if i == 0 else (f'b{i}' if stage == 4 else 'abcdef'[i])
    branch = '1' if module == 'downsample' else _BRANCH[module.replace('bn', 'conv')]
    kind = 'conv' if module.startswith('conv') or rest == ['0', 'weight'] else 'bn'
    return f'{stage}{letters}_branch{branch}', kind


def _varint(n):
    out = bytearray()
    while True:
        out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            return bytes(out)


def _field(number, payload):
    if isinstance(payload, int):
        return _varint(number << 3) + _varint(payload)
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _blob(arr, legacy=False):
    arr = np.asarray(arr, np.float32)
    if legacy:  # the 4-D num/channels/height/width of old Caffe files
        dims = (list(arr.shape) + [1, 1, 1, 1])[:4] if arr.ndim < 4 else list(arr.shape)
        head = b''.join(_field(n, d) for n, d in zip((1, 2, 3, 4), dims))
    else:
        head = _field(7, _field(1, b''.join(_varint(d) for d in arr.shape)))
    return head + _field(5, arr.tobytes())


def write_caffemodel(path, reference, factor=2.0, extra=()):
    """A NetParameter as Caffe writes it: conv layers, BatchNorm (running sums times
    ``factor`` and the factor as third blob) + Scale pairs, and ``extra`` layers."""
    groups = {}
    for key, value in reference.items():
        groups.setdefault(caffe_layer(key), {})[key.rsplit('.', 1)[1]] = value.numpy()
    layers = [_field(1, b'data') + _field(2, b'Input')]  # a layer without blobs
    for (name, kind), p in groups.items():
        if kind == 'conv':
            layers.append(_field(1, ('conv1' if name == 'conv1' else f'res{name}').encode()) +
                          _field(2, b'Convolution') + _field(7, _blob(p['weight'])))
            continue
        bn = 'bn_conv1' if name == 'conv_1' else f'bn{name}'
        scale = 'scale_conv1' if name == 'conv_1' else f'scale{name}'
        layers.append(_field(1, bn.encode()) + _field(2, b'BatchNorm') +
                      b''.join(_field(7, _blob(b, legacy=True))
                               for b in (p['running_mean'] * factor,
                                         p['running_var'] * factor, [factor])))
        layers.append(_field(1, scale.encode()) + _field(2, b'Scale') +
                      _field(7, _blob(p['weight'])) + _field(7, _blob(p['bias'])))
    for name, blobs in extra:
        layers.append(_field(1, name.encode()) + _field(2, b'Convolution') +
                      b''.join(_field(7, _blob(b)) for b in blobs))
    with open(path, 'wb') as f:
        f.write(b''.join(_field(100, layer) for layer in layers))


def deeplab_v2_features(named, x):
    """WSSS-BED's DeepLab-V2 backbone (seg_networks/DeepLab-V2-Pytorch, libs/models/
    resnet.py and deeplabv2.py), transcribed: ceil-mode stem pool, stride on the 1x1
    reduce conv, stages of dilation 1, 1, 2, 4 with every block dilated (none
    contracted), frozen BN."""
    import torch.nn.functional as F

    def cbr(h, prefix, stride=1, dilation=1, relu=True):
        w = named[f'{prefix}.conv.weight']
        h = F.conv2d(h, w, stride=stride, padding=dilation * (w.shape[-1] // 2),
                     dilation=dilation)
        h = F.batch_norm(h, named[f'{prefix}.bn.running_mean'],
                         named[f'{prefix}.bn.running_var'], named[f'{prefix}.bn.weight'],
                         named[f'{prefix}.bn.bias'], False, 0.0, 1e-5)
        return F.relu(h) if relu else h

    h = F.conv2d(x, named['layer1.conv1.conv.weight'], stride=2, padding=3)
    h = F.relu(F.batch_norm(h, named['layer1.conv1.bn.running_mean'],
                            named['layer1.conv1.bn.running_var'],
                            named['layer1.conv1.bn.weight'], named['layer1.conv1.bn.bias'],
                            False, 0.0, 1e-5))
    h = F.max_pool2d(h, 3, 2, 1, ceil_mode=True)
    for stage, (n, stride, dilation) in enumerate(((3, 1, 1), (4, 2, 1), (6, 1, 2),
                                                   (3, 1, 4)), 2):
        for b in range(1, n + 1):
            p = f'layer{stage}.block{b}'
            s = stride if b == 1 else 1
            out = cbr(h, f'{p}.reduce', s)
            out = cbr(out, f'{p}.conv3x3', 1, dilation)
            out = cbr(out, f'{p}.increase', relu=False)
            h = F.relu(out + (cbr(h, f'{p}.shortcut', s, relu=False) if b == 1 else h))
    return h


@pytest.mark.parametrize('source', ['pth', 'caffemodel'])
def test_deeplab_coco_init_converts_to_the_dilated_resnet_of_the_coco_pre_configs(
        source, tmp_path, deeplab_reference):
    """Both released forms of DeepLab's COCO model (Caffe's init.caffemodel, read with no
    Caffe, and deeplab-pytorch's .pth) become the weights of mmseg's ResNet as the
    ``coco-pre`` configs build it, whose features equal WSSS-BED's DeepLab-V2 backbone
    on those weights. Fails before the fix: there was no converter, and the configs'
    backbone (pytorch style, contracted first dilations) computed other features."""
    from mmengine.config import Config
    from mmseg.models.backbones import ResNet
    named = {deeplab_pytorch_name(k): v for k, v in deeplab_reference.items()}
    src = tmp_path / f'init.{source}'
    if source == 'pth':
        junk = dict(named, **{'fc.weight': torch.zeros(91, 32, 1, 1), 'fc.bias': torch.zeros(91),
                              'layer1.conv1.bn.num_batches_tracked': torch.tensor(0)})
        torch.save(junk, src)
    else:
        write_caffemodel(src, deeplab_reference,
                         extra=[('fc1_coco', [np.zeros((91, 32, 3, 3)), np.zeros(91)])])
    dst = tmp_path / 'out.pth'
    deeplab_convert.main([str(src), str(dst), '--depth', '50'])
    got = torch.load(dst, weights_only=True)
    assert set(got) == set(deeplab_reference)
    for k, v in deeplab_reference.items():
        torch.testing.assert_close(got[k], v, rtol=1e-6, atol=1e-6, msg=k)
    # the COCO-init model config's backbone, shrunk, on these weights
    cfg = Config.fromfile(osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'configs',
                                   'examples', 'deeplabv2_r101-d8-coco-pre_2xb10-10k_'
                                   'voc12aug-321x321_eps-vst.py'))
    assert cfg.model.pretrained == 'pretrain/deeplabv2_resnet101_coco-init.pth'
    assert cfg.model.data_preprocessor.bgr_to_rgb is False
    assert list(cfg.model.data_preprocessor.std) == [1.0, 1.0, 1.0]
    bb = {k: v for k, v in cfg.model.backbone.items() if k not in ('type', 'norm_cfg')}
    model = ResNet(**dict(bb, depth=50, stem_channels=8, base_channels=8))
    model.load_state_dict(got, strict=False)
    model.eval()
    x = torch.randn(1, 3, 33, 41)  # odd sizes: a ceil-mode and a floor-mode pool agree
    with torch.no_grad():
        ours = model(x)[-1]
        ref = deeplab_v2_features(named, x)
    assert ours.shape == ref.shape == (1, 256, 5, 6)
    torch.testing.assert_close(ours, ref, rtol=1e-4, atol=1e-4)


def test_deeplab_coco_init_bad_sources_are_named(tmp_path, deeplab_reference):
    """Truncated or foreign files, a BN without its scale factor, integer weights and
    missing layers are refused naming the file and what is wrong."""
    dst = str(tmp_path / 'o.pth')
    cm = tmp_path / 'init.caffemodel'
    write_caffemodel(cm, deeplab_reference)
    data = cm.read_bytes()
    (tmp_path / 'cut.caffemodel').write_bytes(data[:len(data) // 2])
    with pytest.raises(SystemExit, match=r'cut\.caffemodel.*truncated caffemodel'):
        deeplab_convert.main([str(tmp_path / 'cut.caffemodel'), dst, '--depth', '50'])
    (tmp_path / 'text.caffemodel').write_bytes(b'name: "ResNet-101"\nlayer {\n')
    with pytest.raises(SystemExit, match=r'text\.caffemodel: (not a caffemodel|truncated)'):
        deeplab_convert.main([str(tmp_path / 'text.caffemodel'), dst, '--depth', '50'])
    named = {deeplab_pytorch_name(k): v for k, v in deeplab_reference.items()}
    torch.save(dict(named, **{'layer2.block1.reduce.conv.weight':
                              named['layer2.block1.reduce.conv.weight'].to(torch.int32)}),
               tmp_path / 'int.pth')
    with pytest.raises(SystemExit, match=r"int\.pth.*'layer2\.block1\.reduce\.conv\.weight' is "
                                         'not a floating-point tensor'):
        deeplab_convert.main([str(tmp_path / 'int.pth'), dst, '--depth', '50'])
    torch.save({k: v for k, v in named.items() if 'layer5' not in k}, tmp_path / 'part.pth')
    with pytest.raises(SystemExit, match=r'part\.pth does not fit ResNet-50.*missing '
                                         r"\['layer4\.0\.bn1\.bias'"):
        deeplab_convert.main([str(tmp_path / 'part.pth'), dst, '--depth', '50'])
    with pytest.raises(SystemExit, match='does not fit ResNet-101'):  # the wrong depth
        deeplab_convert.main([str(cm), dst])
    assert not (tmp_path / 'o.pth').exists()
    deeplab_convert.main([str(cm), dst, '--depth', '50'])
    with pytest.raises(SystemExit, match='exists; use --force'):
        deeplab_convert.main([str(cm), dst, '--depth', '50'])


def test_the_converters_never_write_over_their_source(tmp_path, reference, deeplab_reference):
    """Fails before the fix: DST naming SRC, with --force, replaced the original weights
    (the MXNet .params, the caffemodel) by the converted file."""
    named = {mxnet_name(k): v.numpy() for k, v in reference.items()}
    src = tmp_path / 'a1.params'
    write_params(src, named)
    cm = tmp_path / 'init.caffemodel'
    write_caffemodel(cm, deeplab_reference)
    for tool, path, extra in ((convert, src, []), (deeplab_convert, cm, ['--depth', '50'])):
        before = path.read_bytes()
        with pytest.raises(SystemExit, match='is the source file'):
            tool.main([str(path), str(path), '--force'] + extra)
        assert path.read_bytes() == before


def test_a_missing_coco_init_file_names_its_converter():
    """The start-up weights check names the converter of the coco-pre leaves' file."""
    from mmengine.config import Config

    from mmwsss.preflight.weights import check_weights
    cfg = Config.fromfile(osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'configs',
                                   'examples', 'deeplabv2_r101-d8-coco-pre_2xb10-10k_'
                                   'voc12aug-321x321_eps-vst.py'))
    cfg.model.pretrained = '/nonexistent/deeplabv2_resnet101_coco-init.pth'
    problems = check_weights(cfg)
    assert len(problems) == 1 and 'model.pretrained' in problems[0]
    assert 'deeplabv2_coco2mmseg.py init.caffemodel /nonexistent/' in problems[0]


def _peak_mib_reading(path):
    """The peak of Python's and numpy's allocations while reading a caffemodel."""
    import tracemalloc
    from mmwsss.fileio.caffemodel import read_caffemodel
    tracemalloc.start()
    try:
        layers = read_caffemodel(str(path))
        return tracemalloc.get_traced_memory()[1] / 2**20, layers
    finally:
        tracemalloc.stop()


def test_a_caffemodel_of_single_float_fields_is_read_within_its_size(tmp_path):
    """Fails before the fix: 256 KiB of single-float fields (5 bytes a value) took
    about 40 times its size, an array per value."""
    n = 2**18 // 5
    values = np.arange(n, dtype=np.float32)
    fields = np.empty((n, 5), np.uint8)
    fields[:, 0] = 0x2d  # field 5 (data), wire type 5: one float32
    fields[:, 1:] = values.astype('<f4').view(np.uint8).reshape(n, 4)
    singles = fields.tobytes()
    blob = _field(7, _field(1, _varint(n))) + singles
    path = tmp_path / 'singles.caffemodel'
    path.write_bytes(_field(100, _field(1, b'fc') + _field(7, blob)))
    peak, layers = _peak_mib_reading(path)
    size = path.stat().st_size / 2**20
    assert peak < 3 * size, f'{peak:.1f} MiB to read {size:.1f} MiB'
    np.testing.assert_array_equal(layers[0].blobs[0], values)  # and read right


@pytest.mark.parametrize('what', ['empty layers', 'one-value blobs'])
def test_a_caffemodel_of_more_layers_than_its_bytes_hold_is_refused(what, tmp_path):
    """Fails before the fix: each 3-byte layer or 7-byte blob became objects of a few
    hundred bytes (a 2 MiB file took hundreds of MiB)."""
    from mmwsss.fileio.caffemodel import read_caffemodel
    one = _field(7, b'\x2d' + struct.pack('<f', 1.0))  # a blob of shape [1, 1, 1, 1]
    layer = _field(100, b'') if what == 'empty layers' else _field(100, one * 1000)
    path = tmp_path / 'many.caffemodel'
    path.write_bytes(layer * (2**21 // len(layer)))
    with pytest.raises(ValueError, match=r'many\.caffemodel: damaged caffemodel \(more than '
                                         r'\d+ layers and blobs in \d+ bytes'):
        read_caffemodel(str(path))


@pytest.mark.parametrize('first, second', [
    ('base.layer2.block1.reduce.conv.weight', 'module.base.layer2.block1.reduce.conv.weight'),
    ('layer2.block1.reduce.conv.weight', 'layer2.block01.reduce.conv.weight'),
])
def test_a_deeplab_pytorch_weight_given_twice_is_refused(first, second, tmp_path,
                                                         deeplab_reference):
    """Fails before the fix: the two keys became one weight, the last one winning."""
    named = {deeplab_pytorch_name(k): v for k, v in deeplab_reference.items()}
    named[first] = named.pop('layer2.block1.reduce.conv.weight')
    named[second] = torch.zeros_like(named[first])
    torch.save(named, tmp_path / 'twice.pth')
    with pytest.raises(SystemExit, match=rf"twice\.pth: '{re.escape(first)}' and "
                                         rf"'{re.escape(second)}' are both the weight "
                                         r'layer1\.0\.conv1\.weight'):
        deeplab_convert.main([str(tmp_path / 'twice.pth'), str(tmp_path / 'o.pth'),
                              '--depth', '50'])
    assert not (tmp_path / 'o.pth').exists()
