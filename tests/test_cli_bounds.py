"""Every numeric flag of every tool is bounded (issue 31, class 8).

The parsers are taken from the tools themselves without running them: ``main([])`` is
called with ``ArgumentParser.parse_args`` replaced by a catch of the parser, so that no
tool's work starts and a flag added tomorrow is swept too.
"""
import argparse
import glob
import importlib
import os.path as osp

import pytest

from tests.utils import load_tool

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))

# (tool, flag) where 0 is a meaningful value; every other numeric flag refuses it
ZERO_OK = {
    ('test', '--crf-workers'),  # refine in the main process
    ('test', '--wait-time'),  # no pause between shown images
    ('test', '--local_rank'), ('train', '--local_rank'), ('make_cams', '--local_rank'),
    ('gpu_check', '--local_rank'),
    ('dataset_converters/draw_gt_subset', '--seed'), ('demo/synthetic', '--seed'),
    ('browse_pseudo_labels', '--tau'),  # τ in [0, 1]
    ('eval_pseudo_labels', '--taus'), ('eval_pseudo_labels', '--tau-range'),
    ('eval_pseudo_labels', '--sal-threshold'), ('eval_pseudo_labels', '--max-ignored'),
    ('eval_pseudo_labels', '--seed'),
    ('pack_maps', '--level'), ('make_cams', '--level'),  # zlib level 0: stored
}


def _tool_names():
    names = []
    for path in sorted(glob.glob(osp.join(ROOT, 'tools', '*.py')) +
                       glob.glob(osp.join(ROOT, 'tools', '*', '*.py')) +
                       glob.glob(osp.join(ROOT, 'demo', '*.py'))):
        text = open(path).read()
        # a thin entry imports its parser (tools/gpu_check.py: mmwsss/gpu_check/cli.py)
        if 'add_argument' in text or 'parse_args' in text:
            names.append(osp.splitext(osp.relpath(path, ROOT))[0])
    return names


class _Caught(Exception):

    def __init__(self, parser):
        self.parser = parser


def _parser_of(name, monkeypatch):
    if name.startswith('demo/'):
        module = importlib.import_module(name.replace('/', '.'))
    else:
        module = load_tool(name[len('tools/'):])

    def catch(self, *args, **kwargs):
        raise _Caught(self)

    with monkeypatch.context() as m:
        m.setattr(argparse.ArgumentParser, 'parse_args', catch)
        with pytest.raises(_Caught) as e:
            module.main([])
    return e.value.parser


def test_every_numeric_flag_refuses_nan_inf_negative_and_zero_where_meaningless(monkeypatch):
    """Fails before the fix: 31 flags were a bare type=int/float, NaN accepted by most."""
    names = _tool_names()
    assert len(names) >= 15, names
    swept, bare = [], []
    for name in names:
        tool = name.split('/', 1)[1] if name.startswith('tools/') else name
        for action in _parser_of(name, monkeypatch)._actions:
            if not action.option_strings or action.type in (None, str):
                continue
            flag = action.option_strings[0]
            if action.type in (int, float):
                if not action.choices:  # choices bound it (--depth 50/101/152)
                    bare.append(f'{tool} {flag}')
                continue
            if not hasattr(action.type, 'bounded'):
                continue  # not a number (e.g. a DictAction)
            swept.append((tool, flag))
            for text in ('nan', 'inf', '-inf', '-1', 'x'):
                with pytest.raises(argparse.ArgumentTypeError, match='want'):
                    action.type(text)
            if (tool, flag) in ZERO_OK:
                assert action.type('0') == 0, (tool, flag)
            else:
                with pytest.raises(argparse.ArgumentTypeError):
                    action.type('0')
    assert not bare, f'unbounded numeric flags: {bare}'
    assert len(swept) >= 25, swept
    assert ZERO_OK <= set(swept), ZERO_OK - set(swept)


@pytest.mark.parametrize('argv, flag', [
    (['--timeout', 'c=nan'], "--timeout 'c=nan'"),
    (['--timeout', 'b=inf'], "--timeout 'b=inf'"),
    (['--time-limit', 'nan'], 'argument --time-limit'),
    (['--nproc', '0'], 'argument --nproc'),
])
def test_gpu_check_refuses_nan_and_negative_seconds(argv, flag, capsys):
    """Fails before the fix: --timeout c=nan became a 1 s timeout, --time-limit nan ran,
    --nproc 0 was accepted."""
    gpu_check = load_tool('gpu_check')
    with pytest.raises(SystemExit) as e:
        gpu_check.parse_args(['--dry-run', '--out', 'unused'] + argv)
    assert e.value.code == 2
    assert flag in capsys.readouterr().err


def test_a_tool_says_which_flag_and_what_it_wants(capsys):
    """Fails before the fix: train.py --smoke 0 trained the whole schedule, no smoke."""
    train = load_tool('train')
    with pytest.raises(SystemExit) as e:
        train.parse_args(['config.py', '--smoke', '0'])
    assert e.value.code == 2
    assert "argument --smoke: want an integer >= 1, got '0'" in capsys.readouterr().err


def test_the_benchmarks_take_bounded_numbers_too():
    """Read, not run (importing a benchmark pins the threads of this process). Fails
    before the fix: 28 bare type=int flags."""
    import re
    bare = []
    for path in sorted(glob.glob(osp.join(ROOT, 'benchmarks', '*.py'))):
        for n, line in enumerate(open(path), 1):
            if re.search(r'\btype=(int|float)\b', line):
                bare.append(f'{osp.basename(path)}:{n}')
    assert not bare, f'unbounded numeric flags: {bare}'


@pytest.mark.parametrize('script, argv, env, said', [
    ('dist_train.sh', ['c.py', '0'], {}, "GPUS wants a whole number >= 1, got '0'"),
    ('dist_train.sh', ['c.py', 'nan'], {}, "GPUS wants a whole number >= 1, got 'nan'"),
    ('dist_train.sh', ['c.py', '2'], dict(NNODES='2', NODE_RANK='2'),
     "NODE_RANK wants a whole number >= 0 and <= 1, got '2'"),
    ('dist_test.sh', ['c.py', 'w.pth', '-1'], {}, "GPUS wants a whole number >= 1, got '-1'"),
    ('dist_test.sh', ['c.py', 'w.pth', '1'], dict(PORT='99999'),
     "PORT wants a whole number >= 1 and <= 65535, got '99999'"),
    ('slurm_train.sh', ['part', 'job', 'c.py'], dict(GPUS='2', CPUS_PER_TASK='0'),
     "CPUS_PER_TASK wants a whole number >= 1, got '0'"),
])
def test_the_launch_scripts_refuse_counts_that_are_not_whole_numbers(script, argv, env, said,
                                                                     tmp_path):
    """Fails before the fix: each went on to train.py or torchrun (GPUS 0 or nan,
    a node rank past the nodes, a port past 65535)."""
    import os
    import subprocess
    env = dict(os.environ, PYTHON='/bin/false', PATH=f'{tmp_path}:{os.environ["PATH"]}', **env)
    (tmp_path / 'srun').write_text('#!/bin/sh\nexit 0\n')  # nothing to start, if reached
    (tmp_path / 'srun').chmod(0o755)
    p = subprocess.run(['bash', osp.join(ROOT, 'tools', script)] + argv, env=env,
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 2 and f'{script}: {said}' in p.stderr, (p.returncode, p.stderr)
