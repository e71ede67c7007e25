"""Convert the ImageNet ResNet-38 of PSA/EPS from MXNet to a PyTorch state dict.

    python tools/model_converters/resnet38_mxnet2pth.py \\
        ilsvrc-cls_rna-a1_cls1000_ep-0001.params \\
        pretrain/ilsvrc-cls_rna-a1_cls1000_ep-0001.pth [--force]

The source is the "A1" model of Wu et al., "Wider or Deeper" (the file PSA's
README links); reading it needs no MXNet. The output is a plain state dict with
PSA's names (what PSA's ``convert_mxnet_to_torch`` writes), checked against
:class:`mmwsss.models.ResNet38` (every weight present, every shape right, one
source name per weight, floating point and finite) before it is written,
atomically; an existing file is kept without ``--force``.
The classifier configs read it from ``pretrain/`` (``model.backbone.init_cfg``).
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..', '..'))

from mmwsss.cli import refuse_overwrite  # noqa: E402
from mmwsss.fileio import torch_save_atomic  # noqa: E402
from mmwsss.fileio.mxnet_params import load_mxnet_params  # noqa: E402
from mmwsss.models.backbones.resnet38 import (ResNet38,  # noqa: E402
                                              resnet38_weights_from_mxnet)


def parse_args(argv=None):
    from mmwsss.cli import DefaultsHelpFormatter
    p = argparse.ArgumentParser(
        formatter_class=DefaultsHelpFormatter,
        description='ResNet-38 ImageNet weights: MXNet -> PyTorch')
    p.add_argument('src', help='ilsvrc-cls_rna-a1_cls1000_ep-0001.params')
    p.add_argument('dst', help='output .pth (a plain state dict, PSA naming)')
    p.add_argument('--force', action='store_true', help='overwrite DST')
    return p.parse_args(argv)


def check_against_resnet38(state: dict, src: str) -> int:
    """The base width of the weights; an error naming what does not fit."""
    if 'conv1a.weight' not in state:
        raise SystemExit(f'{src}: no conv1a weight: not the ResNet-38 A1 model')
    base = int(state['conv1a.weight'].shape[0])
    want = {k: v.shape for k, v in ResNet38(base_channels=base).state_dict().items()
            if not k.endswith('num_batches_tracked')}
    missing = sorted(set(want) - set(state))
    extra = sorted(set(state) - set(want))
    wrong = sorted(k for k in set(want) & set(state) if tuple(state[k].shape) != tuple(want[k]))
    if missing or extra or wrong:
        raise SystemExit(f'{src} does not fit ResNet38(base_channels={base}): missing '
                         f'{missing[:5]}{"..." if len(missing) > 5 else ""}, unexpected '
                         f'{extra[:5]}, wrong shape {wrong[:5]}')
    return base


def main(argv=None):
    args = parse_args(argv)
    refuse_overwrite(args.dst, args.force, args.src, 'is the source file: --force would '
                     'replace it by its conversion; name another output')
    try:
        state = resnet38_weights_from_mxnet(load_mxnet_params(args.src))
    except (OSError, ValueError) as e:
        raise SystemExit(f'{args.src}: {e}') from e
    base = check_against_resnet38(state, args.src)
    torch_save_atomic(state, args.dst)
    n = sum(v.numel() for v in state.values())
    print(f'{len(state)} tensors ({n / 1e6:.1f}M values, base width {base}) written to '
          f'{args.dst}')
    return state


if __name__ == '__main__':
    from mmwsss.cli import run_tool
    run_tool(main)
