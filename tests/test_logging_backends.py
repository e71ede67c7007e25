"""Issue 30, item 4: mmengine's logging backends turned on as an mmseg user does (a
child config's ``visualizer``, or ``--cfg-options``) work, or fail at start with one
error line naming the command that installs them."""
import importlib.util
import json
import os.path as osp
import sys
import types

import pytest

from mmwsss.cli import run_tool
from mmwsss.config.loading import DictAction, check_cfg_options, load_config
from tests.utils import load_tool

TINY = osp.join(osp.dirname(osp.abspath(__file__)), 'configs', 'tiny_fcn_voc_pseudo.py')
TB = "visualizer.vis_backends=[dict(type='LocalVisBackend'),dict(type='TensorboardVisBackend')]"


def test_cfg_options_take_list_of_dict_values():
    """Fails before the fix: mmengine 0.10.7's DictAction kept each element as the
    string "dict(type='LocalVisBackend')", which the Runner cannot build."""
    import argparse
    p = argparse.ArgumentParser()
    p.add_argument('--cfg-options', nargs='+', action=DictAction)
    opts = p.parse_args(['--cfg-options', TB, 'a=[(1,2),[x,y]]', 'b=1,2', 'c=None']).cfg_options
    assert opts['visualizer.vis_backends'] == [dict(type='LocalVisBackend'),
                                               dict(type='TensorboardVisBackend')]
    # what mmengine's parses, unchanged
    assert opts['a'] == [(1, 2), ['x', 'y']] and opts['b'] == [1, 2] and opts['c'] is None
    cfg = load_config(TINY)
    vis = {'visualizer.vis_backends': opts['visualizer.vis_backends']}
    check_cfg_options(cfg, vis)  # a key the Runner reads
    cfg.merge_from_dict(vis)
    assert [b.type for b in cfg.visualizer.vis_backends] == ['LocalVisBackend',
                                                            'TensorboardVisBackend']


class _SummaryWriter:
    """Stands in for torch.utils.tensorboard's where tensorboard is not installed:
    records what mmengine's TensorboardVisBackend writes."""
    scalars = []

    def __init__(self, log_dir):
        self.log_dir = log_dir

    def add_scalar(self, name, value, step):
        self.scalars.append((name, float(value), step))

    def add_text(self, *args, **kwargs):
        pass

    def close(self):
        pass


def test_tensorboard_logs_a_short_training(tmp_path, monkeypatch):
    """``--cfg-options visualizer.vis_backends=[...]`` through a real training: the
    TensorBoard backend gets the losses and the validation mIoU. Where tensorboard is
    not installed (here) a stand-in SummaryWriter records them."""
    real = importlib.util.find_spec('tensorboard') is not None
    if not real:
        _SummaryWriter.scalars = []
        monkeypatch.setitem(sys.modules, 'torch.utils.tensorboard',
                            types.SimpleNamespace(SummaryWriter=_SummaryWriter))
    work = tmp_path / 'work'
    load_tool('train').main([TINY, '--work-dir', str(work), '--cfg-options', TB,
                             'visualizer.name=tensorboard_test', 'train_cfg.max_iters=2',
                             'train_cfg.val_interval=2', 'param_scheduler.0.end=2'])
    vis_data = next(work.glob('*/vis_data'))
    local = [json.loads(ln) for ln in open(vis_data / 'scalars.json')]
    assert [r['loss'] for r in local if 'loss' in r] and [r for r in local if 'mIoU' in r]
    if real:
        assert list(vis_data.glob('events.out.tfevents.*'))
    else:
        names = {name for name, _, _ in _SummaryWriter.scalars}
        assert {'loss', 'lr', 'mIoU'} <= names, names


@pytest.mark.parametrize('how', ['cfg-options', 'child config'])
def test_a_missing_backend_is_one_error_line_with_the_install_command(
        tmp_path, monkeypatch, capsys, how):
    """Fails before the fix: mmengine's ImportError ended in a traceback, after the
    whole config was printed. Absence simulated: the import fails."""
    monkeypatch.setitem(sys.modules, 'torch.utils.tensorboard', None)
    monkeypatch.setitem(sys.modules, 'wandb', None)
    if how == 'cfg-options':
        argv = [TINY, '--cfg-options', TB]
        install = "pip install -e '.[tensorboard]'"
    else:  # as an mmseg user turns a backend on
        child = tmp_path / 'child.py'
        child.write_text(f"_base_ = '{TINY}'\n"
                         "visualizer = dict(vis_backends=[dict(type='LocalVisBackend'),\n"
                         "                                dict(type='WandbVisBackend')])\n")
        argv = [str(child)]
        install = 'pip install wandb'
    with pytest.raises(SystemExit) as e:
        run_tool(load_tool('train').main, argv + ['--work-dir', str(tmp_path / 'w')],
                 prog='train.py')
    assert e.value.code == 1
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('train.py: error: visualizer.vis_backends: ')
    assert lines[0].endswith(install), lines
    assert not (tmp_path / 'w').exists()  # nothing started
