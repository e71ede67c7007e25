"""tools/model_converters/resnet38_mxnet2pth.py: the MXNet ImageNet ResNet-38 of
PSA/EPS becomes a state dict that ResNet38 loads strictly, with no MXNet."""
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
