"""Parameters and checkpoint size of configs' models, built on CPU (no download).

    python tools/analysis_tools/model_budget.py [CONFIG ...] [--cfg-options ...]

Default: every segmentor recipe under configs/wsss/recipes/ and the ResNet-38 EPS++
classifier. The checkpoint size is the fp32 weights plus the optimizer's state
(SGD with momentum: one buffer per trainable weight; Adam/AdamW: two), what
mmengine's CheckpointHook writes; the figures in configs/wsss/README.md come from here.
"""
import argparse
import contextlib
import glob
import os.path as osp
import sys
import warnings

ROOT = osp.join(osp.dirname(osp.abspath(__file__)), '..', '..')
sys.path.insert(0, ROOT)
from mmengine.config import Config  # noqa: E402

from mmwsss.config import DictAction, load_config  # noqa: E402
from mmwsss.parallel import sync_bn_to_bn
from mmwsss.utils.upstream_noise import (UpstreamLogFilter,  # noqa: E402
                                         filter_upstream_warnings)

_STATE_BUFFERS = dict(SGD=1, Adam=2, AdamW=2)


def model_budget(cfg) -> dict:
    """Parameter counts and checkpoint bytes of ``cfg.model`` (SyncBN as BN, no
    pretrained weights loaded)."""
    import mmwsss  # noqa: F401
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    c = Config(dict(model=cfg.model.to_dict()))
    sync_bn_to_bn(c)
    m = c.model
    if 'pretrained' in m:
        m.pretrained = None
    if m.get('backbone') and m.backbone.get('init_cfg') is not None:
        m.backbone.init_cfg = None
    model = MODELS.build(m)
    n = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    opt = cfg.optim_wrapper.optimizer.type
    if opt not in _STATE_BUFFERS:
        raise ValueError(f'unknown optimizer {opt!r}: one of {sorted(_STATE_BUFFERS)}')
    momentum = opt != 'SGD' or cfg.optim_wrapper.optimizer.get('momentum', 0) > 0
    buffers = _STATE_BUFFERS[opt] if momentum else 0
    return dict(params=n, trainable=trainable, optimizer=opt,
                checkpoint_bytes=4 * (n + buffers * trainable))


def main(argv=None):
    from mmwsss.cli import DefaultsHelpFormatter
    p = argparse.ArgumentParser(
        formatter_class=DefaultsHelpFormatter,
        description='parameters and checkpoint size per config')
    p.add_argument('configs', nargs='*')
    p.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = p.parse_args(argv)
    configs = args.configs or sorted(glob.glob(osp.join(ROOT, 'configs', 'wsss', 'recipes',
                                                        '*.py'))) + [
        osp.join(ROOT, 'configs', 'eps', 'ird_resnet38_1xb8-20k_voc12aug-448x448.py')]
    rows, notes = {}, []
    # what building the models warns (mmseg's, mmengine's) goes after the table,
    # once each, on stderr: not between its rows; less the stack's deprecation notices
    with warnings.catch_warnings(record=True) as caught, _log_records() as records:
        warnings.simplefilter('always')
        filter_upstream_warnings()
        for path in configs:
            rows[path] = model_budget(load_config(path, args.cfg_options))
    for msg in [str(w.message) for w in caught] + [r.getMessage() for r in records]:
        if msg not in notes:
            notes.append(msg)
    print('| config | parameters | optimizer | checkpoint |\n|---|---|---|---|')
    for path, b in rows.items():
        print(f'| {osp.basename(path)} | {b["params"] / 1e6:.1f}M | {b["optimizer"]} | '
              f'{b["checkpoint_bytes"] / 2**30:.2f} GiB |')
    for msg in notes:
        print(f'note: {msg}', file=sys.stderr)
    return rows


@contextlib.contextmanager
def _log_records():
    """mmengine's log records at WARNING and above, kept instead of printed."""
    import logging

    from mmengine.logging import MMLogger
    logger, records = MMLogger.get_current_instance(), []
    keep = logging.Handler(logging.WARNING)
    keep.emit = records.append
    keep.addFilter(UpstreamLogFilter())
    old = logger.handlers[:]
    logger.handlers = [keep]
    try:
        yield records
    finally:
        logger.handlers = old


if __name__ == '__main__':
    from mmwsss.cli import run_tool
    run_tool(main)
