"""Convert DeepLab's MS-COCO ResNet-101 (the init of WSSS-BED's DeepLab-V2) for mmseg.

    python tools/model_converters/deeplabv2_coco2mmseg.py SRC \\
        pretrain/deeplabv2_resnet101_coco-init.pth [--depth 101] [--force]

SRC is either DeepLab's Caffe release, ``init.caffemodel`` (from
``http://liangchiehchen.com/projects/released/deeplab_aspp_resnet101/prototxt_and_model.zip``;
read without Caffe or protobuf), or its PyTorch conversion
``deeplabv1_resnet101-coco.pth`` (kazuto1011/deeplab-pytorch's ``convert.py``; the file
WSSS-BED's ``DLV2_init_weight.zip`` holds). The output is a plain state dict with mmseg
``ResNet`` names (``style='caffe'``), checked against ``ResNet(depth, style='caffe')``
before it is written, atomically (every weight present with its shape, floating point
and finite); the COCO classifier is left out. An existing file is kept without
``--force``. The ``_coco-init`` DeepLab-V2 configs read it from ``pretrain/``.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..', '..'))
import torch  # noqa: E402

from mmwsss.cli import refuse_overwrite  # noqa: E402
from mmwsss.fileio import torch_save_atomic  # noqa: E402
from mmwsss.fileio.caffemodel import read_caffemodel  # noqa: E402
from mmwsss.models.backbones.deeplab_resnet import (  # noqa: E402
    resnet_weights_from_caffe, resnet_weights_from_deeplab_pytorch)


def parse_args(argv=None):
    from mmwsss.cli import DefaultsHelpFormatter
    p = argparse.ArgumentParser(
        description="DeepLab's COCO ResNet-101 (caffemodel or deeplab-pytorch .pth) -> mmseg",
        formatter_class=DefaultsHelpFormatter)
    p.add_argument('src', help='init.caffemodel or deeplabv1_resnet101-coco.pth')
    p.add_argument('dst', help='output .pth (a plain state dict, mmseg ResNet names)')
    p.add_argument('--depth', type=int, default=101, choices=(50, 101, 152),
                   help='ResNet depth the weights must fit')
    p.add_argument('--force', action='store_true', help='overwrite DST')
    return p.parse_args(argv)


def read_source(src: str):
    """(mmseg state dict, dropped names) from a caffemodel or a deeplab-pytorch .pth."""
    if not osp.isfile(src):
        raise SystemExit(f'{src}: file not found')
    with open(src, 'rb') as f:
        head = f.read(4)
    try:
        if head[:2] == b'PK' or src.endswith(('.pth', '.pt')):  # torch.save's zip
            named = torch.load(src, map_location='cpu', weights_only=True)
            if isinstance(named, dict) and isinstance(named.get('state_dict'), dict):
                named = named['state_dict']
            if not isinstance(named, dict):
                raise ValueError(f'holds a {type(named).__name__}, not a state dict')
            return resnet_weights_from_deeplab_pytorch(named)
        return resnet_weights_from_caffe(read_caffemodel(src))
    except SystemExit:
        raise
    except Exception as e:  # a damaged or foreign file, named with what is wrong
        raise SystemExit(f'{src}: {e}') from None


def check_against_resnet(state: dict, src: str, depth: int) -> None:
    """An error naming what does not fit mmseg's ``ResNet(depth, style='caffe')``
    (its stem and base widths read off the weights)."""
    from mmseg.models.backbones import ResNet
    for key in ('conv1.weight', 'layer1.0.conv1.weight'):
        if key not in state:
            raise SystemExit(f'{src}: no {key} weight: not a DeepLab ResNet')
    model = ResNet(depth=depth, stem_channels=int(state['conv1.weight'].shape[0]),
                   base_channels=int(state['layer1.0.conv1.weight'].shape[0]), style='caffe')
    want = {k: v.shape for k, v in model.state_dict().items()
            if not k.endswith('num_batches_tracked')}
    missing = sorted(set(want) - set(state))
    extra = sorted(set(state) - set(want))
    wrong = sorted(k for k in set(want) & set(state) if tuple(state[k].shape) != tuple(want[k]))
    if missing or extra or wrong:
        raise SystemExit(f'{src} does not fit ResNet-{depth} (caffe style): missing '
                         f'{missing[:5]}{"..." if len(missing) > 5 else ""}, unexpected '
                         f'{extra[:5]}, wrong shape {wrong[:5]}')
    bad = sorted(k for k, v in state.items() if not torch.isfinite(v).all())
    if bad:
        raise SystemExit(f'{src}: NaN or infinite values in {bad[:5]}')


def main(argv=None):
    args = parse_args(argv)
    refuse_overwrite(args.dst, args.force, args.src, 'is the source file: --force would '
                     'replace it by its conversion; name another output')
    state, dropped = read_source(args.src)
    check_against_resnet(state, args.src, args.depth)
    torch_save_atomic(state, args.dst)
    n = sum(v.numel() for v in state.values())
    print(f'{len(state)} tensors ({n / 1e6:.1f}M values) written to {args.dst}; left out: '
          f'{len(dropped)} ({", ".join(dropped[:4])}{"..." if len(dropped) > 4 else ""})')
    return state


if __name__ == '__main__':
    from mmwsss.cli import run_tool
    run_tool(main)
