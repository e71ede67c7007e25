"""WSSS-BED's evaluation protocol as an opt-in (configs/_base_/protocols/wsss_bed.py)."""
import os.path as osp

import pytest
from mmengine.config import Config

from mmwsss.config import load_config
from mmwsss.config.smoke import make_smoke_config
from mmwsss.errors import WSSSConfigError
from mmwsss.evaluation.protocol import apply_eval_protocol, get_eval_protocol

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
MIXIN = osp.join(ROOT, 'configs', '_base_', 'protocols', 'wsss_bed.py')
VOC_LEAF = osp.join(ROOT, 'configs', 'wsss',
                    'deeplabv2_r101-d8_2xb10-10k_voc12aug-321x321_eps-vst.py')
COCO_LEAF = osp.join(ROOT, 'configs', 'wsss', 'coco14',
                     'deeplabv2_r101-d8_4xb5-50k_coco14-321x321_eps-vst.py')


def with_mixin(tmp_path, leaf, extra=''):
    path = tmp_path / 'leaf_bed.py'
    path.write_text(f'_base_ = [{leaf!r}, {MIXIN!r}]\n{extra}')
    return str(path)


@pytest.mark.parametrize('leaf, begin', [(VOC_LEAF, 6001), (COCO_LEAF, 30001)])
def test_the_mixin_validates_every_100_iterations_after_60_percent_and_keeps_the_best(
        tmp_path, leaf, begin):
    cfg = load_config(with_mixin(tmp_path, leaf))
    plain = Config.fromfile(leaf)
    assert get_eval_protocol(plain)['type'] == 'last' and apply_eval_protocol(plain) == []
    assert 'save_best' not in plain.default_hooks.checkpoint
    done = apply_eval_protocol(cfg)
    # WSSS-BED validates when iteration > 0.6 * ITER_MAX, every 100: 6100, ..., 10000
    assert cfg.train_cfg.val_begin == begin and cfg.train_cfg.val_interval == 100
    assert cfg.default_hooks.checkpoint.save_best == 'mIoU'
    assert cfg.default_hooks.checkpoint.rule == 'greater'
    assert 'chosen on the evaluation set' in done[0]
    # everything else is the leaf's
    assert cfg.model == plain.model and cfg.train_dataloader == plain.train_dataloader
    # the schedule follows max_iters however it changed (--cfg-options, --smoke)
    cfg = load_config(with_mixin(tmp_path, leaf), {'train_cfg.max_iters': 2000})
    apply_eval_protocol(cfg)
    assert cfg.train_cfg.val_begin == 1201
    make_smoke_config(cfg, iters=4)
    apply_eval_protocol(cfg)
    assert (cfg.train_cfg.val_begin, cfg.train_cfg.max_iters) == (3, 4)


def test_the_protocol_can_be_turned_on_from_the_command_line():
    cfg = load_config(VOC_LEAF, {'eval_protocol.type': 'wsss-bed'})
    apply_eval_protocol(cfg)
    assert cfg.train_cfg.val_begin == 6001 and cfg.train_cfg.val_interval == 100


@pytest.mark.parametrize('protocol, msg', [
    (dict(type='wsss_bed'), "unknown protocol 'wsss_bed'"),
    (dict(type='wsss-bed', val_from=1.5), r'val_from must be a fraction of training in \[0, 1\)'),
    (dict(type='wsss-bed', val_interval=0), 'val_interval must be a positive integer'),
    (dict(type='wsss-bed', val_intervall=50), r"unknown key\(s\) \['val_intervall'\]"),
    (dict(type='wsss-bed', metric=''), 'metric must name a metric'),
])
def test_a_bad_protocol_is_a_user_error_naming_the_key(protocol, msg):
    cfg = Config.fromfile(VOC_LEAF)
    cfg.eval_protocol = protocol
    with pytest.raises(WSSSConfigError, match=msg):
        apply_eval_protocol(cfg)


def test_an_epoch_based_loop_is_refused():
    cfg = Config(dict(eval_protocol=dict(type='wsss-bed'),
                      train_cfg=dict(type='EpochBasedTrainLoop', max_epochs=12),
                      default_hooks=dict(checkpoint=dict(type='CheckpointHook'))))
    with pytest.raises(WSSSConfigError, match='needs an iteration-based train_cfg'):
        apply_eval_protocol(cfg)
