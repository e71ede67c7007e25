"""tools/gpu_check.sh / tools/gpu_check.py --dry-run on the CPU: every part reports,
with the same schema as a GPU run and its pass criterion beside its result, and a part
cut short keeps the parts before it; what a user reads speaks of their own node."""
import json
import math
import os
import os.path as osp
import subprocess
import re
import sys

from mmwsss.gpu_check import runner
from mmwsss.gpu_check.check_losses import LOSSES
from mmwsss.gpu_check.plan import TIMEOUT_SHARES
from mmwsss.gpu_check.recipes import VARIANTS
from tests.utils import load_tool

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
SH = osp.join(ROOT, 'tools', 'gpu_check.sh')
PY = osp.join(ROOT, 'tools', 'gpu_check.py')
RECIPES = ('deeplabv2', 'deeplabv3plus', 'segformer', 'knet')


def _run(cmd, timeout=240):
    env = dict(os.environ, PYTHON=sys.executable)
    env.pop('CUDA_VISIBLE_DEVICES', None)  # the dry run hides the GPUs itself
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)


def _numbers(node, path=''):
    """Every number in a JSON tree, with where it is."""
    if isinstance(node, bool):
        return
    if isinstance(node, (int, float)):
        yield path, node
    elif isinstance(node, dict):
        for k, v in node.items():
            yield from _numbers(v, f'{path}.{k}')
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _numbers(v, f'{path}[{i}]')


def test_dry_run_reports_every_part(tmp_path):
    out = str(tmp_path / 'out')
    # the install script runs the checks with $PYTHON (here: no install in a dry run)
    cmd = ['bash', SH, '--dry-run', '--out', out] if osp.isfile(SH) else \
        [sys.executable, PY, '--dry-run', '--out', out]
    p = _run(cmd)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    report = json.load(open(osp.join(out, 'gpu_check.json')))
    assert report['dry_run'] is True and report['finished'] is True
    assert report['env']['torch'] and report['env']['mmseg'] and report['env']['gpu_count'] == 0
    parts = report['parts']
    assert list(parts) == ['a', 'b', 'c', 'd']
    for name, part in parts.items():
        assert part['result'], name
        assert part['status'] in ('passed', 'skipped'), (name, part)
        assert part['wall_s'] > 0
        assert part['criterion'], name  # what "passed" means, beside the result
    for where, v in _numbers(report):
        assert math.isfinite(v), where

    a = parts['a']['result']
    assert parts['a']['status'] == 'skipped'  # no CUDA here
    assert a['counts']['skipped'] == len(a['tests']) >= 6
    assert all('needs CUDA' in t['message'] for t in a['tests'])

    b = parts['b']['result']
    assert list(b['recipes']) == list(RECIPES)
    for name, r in b['recipes'].items():
        for v in ('on_the_fly', 'precomputed'):
            x = r[v]
            assert 'error' not in x, (name, v, x)
            assert x['iters'] == b['iters'] and x['loss_finite'], (name, v, x)
            assert x['s_per_iter'] > 0 and x['data_s_per_iter'] > 0
            assert x['peak_mem_gib'] is None  # mmengine logs memory on CUDA only
        assert r['ratio_s_per_iter'] > 0 and r['ratio_data_time'] > 0
        assert r['crop'] == [64, 64]
    assert b['recipes']['deeplabv2']['model_zoo_mem_gb'] is None
    assert b['recipes']['deeplabv3plus']['model_zoo_mem_gb'] == 11.0

    c = parts['c']['result']
    assert set(c['variants']) == {'none', 'eps', 'ird', 'ird_literal'}
    assert all(v['step_s'] > 0 and math.isfinite(v['loss']) for v in c['variants'].values())
    assert c['variants']['none']['overhead'] is None
    assert c['variants']['ird']['overhead'] is not None

    d = parts['d']['result']
    assert d['loss_finite'] and d['iters'] == 2 and d['s_per_iter'] > 0
    assert d['amp'] is False and d['dtype'] == 'float32'  # AmpOptimWrapper needs CUDA

    md = open(osp.join(out, 'gpu_check.md')).read()
    assert 'CPU DRY RUN' in md
    assert '| part | what | status | pass criterion |' in md
    for name, part in parts.items():
        assert f"| **{part['status']}** | {part['criterion']} |" in md, name
        assert f"**{part['status']}**. Pass: {part['criterion']}." in md, name
    assert 'iterations with a finite loss' in parts['b']['criterion']
    assert "Reported, not judged: s/iter and data time" in md
    # the terminal: each part's result, then its criterion
    said = re.findall(r'\] ([a-d]): (\w+) in .*\n    pass: (.*)', p.stdout)
    assert [(n, s) for n, s, _ in said] == [(n, x['status']) for n, x in parts.items()]
    assert all(parts[n]['criterion'].startswith(c.strip()) for n, _, c in said)
    assert '| recipe | crop | batch/GPU | s/iter on the fly |' in md
    for title in ('## a.', '## b.', '## c.', '## d.', '| knet | 64×64 |'):
        assert title in md, title
    assert osp.isfile(osp.join(out, 'logs', 'a_junit.xml'))


def test_a_part_cut_short_keeps_the_parts_before_it(tmp_path):
    """And with --scratch (as gpu_check.sh gives it, for a node that returns only a
    few small files) OUT holds the report alone."""
    out, scratch = str(tmp_path / 'out'), str(tmp_path / 'scratch')
    p = _run([sys.executable, PY, '--dry-run', '--out', out, '--parts', 'a,b',
              '--timeout', 'b=3', '--scratch', scratch])
    assert p.returncode == 1, p.stdout[-3000:] + p.stderr[-3000:]  # b did not pass
    report = json.load(open(osp.join(out, 'gpu_check.json')))
    assert report['finished'] is True
    a, b = report['parts']['a'], report['parts']['b']
    assert a['status'] == 'skipped' and a['result']['counts']['skipped'] >= 6
    assert b['status'] == 'timeout'
    assert all('error' in r['on_the_fly'] for r in b['result']['recipes'].values())
    assert 'killed after the timeout' in open(osp.join(scratch, 'logs', 'b.log')).read()
    assert sorted(os.listdir(out)) == ['gpu_check.json', 'gpu_check.md']
    md = open(osp.join(out, 'gpu_check.md')).read()
    assert '| b |' in md and '**timeout**' in md


def test_help_speaks_of_the_users_node_and_gives_the_criteria():
    """--help of both tools: how to run the check on one's own GPU node, each part's
    pass criterion; nothing about the machines this project is tested on."""
    sh = _run(['bash', SH, '--help'], timeout=30)
    py = _run([sys.executable, PY, '--help'], timeout=30)
    assert sh.returncode == py.returncode == 0
    assert 'python tools/gpu_check.py --out OUT' in sh.stdout
    assert '--max-mib' in sh.stdout
    for name in 'abcd':
        assert f'\n  {name}  ' in py.stdout
    assert py.stdout.count('pass: ') == 4 and 'reported, not judged' in py.stdout
    for text in (sh.stdout, py.stdout):
        assert not re.search(r'\blent\b|our (test )?machine|this machine|session|\bhere\b',
                             text, re.I), text


def test_timeouts_are_shares_of_the_time_limit():
    """A user's node gets 30 minutes, each part its share; --time-limit scales them
    all, --timeout sets one."""
    gc = load_tool('gpu_check')
    args = gc.parse_args(['--out', 'o'])
    assert args.time_limit == 1800
    assert args.timeouts == {k: round(v * 1800) for k, v in TIMEOUT_SHARES.items()}
    args = gc.parse_args(['--out', 'o', '--time-limit', '330', '--timeout', 'b=200'])
    assert args.timeouts == dict(prepare=89, a=148, b=200, c=76, d=89)
    args = gc.parse_args(['--out', 'o', '--dry-run'])
    assert args.time_limit == 300 and args.timeouts['b'] == 150


def test_the_shell_script_resolves_paths_from_the_callers_folder(tmp_path):
    """Fails before the fix: a relative --out or --wheels was taken inside the checkout
    (the script cds there first), not in the folder the user typed it in."""
    env = dict(os.environ, PYTHON='/bin/echo')  # shows what the check would be given
    p = subprocess.run(['bash', SH, '--dry-run', '--out', 'rel'], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == ['tools/gpu_check.py', '--dry-run', '--out',
                                str(tmp_path / 'rel')]
    p = subprocess.run(['bash', SH, '--wheels', 'wh', '--out', 'o'], cwd=tmp_path,
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 1 and f'--wheels {tmp_path}/wh: no such folder' in p.stderr
    p = subprocess.run(['bash', SH, '--prepare', 'p', '--max-mib', '0'], cwd=tmp_path,
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 1 and '--max-mib wants a whole number of MiB > 0' in p.stderr


def test_a_rerun_whose_workers_die_before_writing_reports_no_earlier_result(tmp_path,
                                                                           monkeypatch):
    """Fails before the fix: rerun into the same folders, parts a and b reported the
    previous run's junit and per-part results as passed, with exit status 0, and the
    report took in an install.json that an earlier gpu_check.sh run left in OUT."""
    gc = load_tool('gpu_check')
    out, scratch = tmp_path / 'out', tmp_path / 'scratch'
    (scratch / 'parts').mkdir(parents=True)
    (scratch / 'logs').mkdir()
    ok = dict(s_per_iter=0.1, data_s_per_iter=0.01, loss_first=1.0, loss_finite=True)
    for name, obj in (('env', dict(torch='old', gpu_count=0)),
                      ('b.deeplabv2', {v: dict(ok) for v in VARIANTS}),
                      ('c', dict(variants={v: dict(step_s=0.1, loss=1.0)
                                           for v in LOSSES}))):
        (scratch / 'parts' / f'{name}.json').write_text(json.dumps(dict(obj, run_id='old')))
    out.mkdir()
    (out / 'install.json').write_text(json.dumps(dict(ok=True, torch='old')))  # not this run's
    monkeypatch.delenv('GPU_CHECK_INSTALL_JSON', raising=False)
    (scratch / 'logs' / 'a_junit.xml').write_text(
        '<testsuite><testcase classname="tests.test_cuda" name="test_x"/></testsuite>')
    died = []
    monkeypatch.setattr(runner, 'run_logged', lambda cmd, log, timeout, env: died.append(cmd)
                        or dict(rc=1, timed_out=False))  # every worker dies, writing nothing
    rc = gc.main(['--dry-run', '--out', str(out), '--scratch', str(scratch),
                  '--parts', 'a,b,c', '--recipes', 'deeplabv2'])
    report = json.load(open(out / 'gpu_check.json'))
    assert len(died) == 4 and rc == 1
    assert {p: r['status'] for p, r in report['parts'].items()} == dict(
        a='failed', b='failed', c='failed')
    assert report['env'].get('torch') != 'old' and report['install'] is None


def test_the_entry_imports_no_stack():
    """The main process parses its options and runs the parts without the stack: one
    that fails (or crashes) on import is reported by the prepare step's own process."""
    code = ('import importlib.util, sys\n'
            f'spec = importlib.util.spec_from_file_location("entry", {PY!r})\n'
            'entry = importlib.util.module_from_spec(spec)\n'
            'spec.loader.exec_module(entry)\n'
            'entry.parse_args(["--out", "o", "--dry-run"])\n'
            'from mmwsss.gpu_check import checks  # noqa: F401\n'
            'print(sorted(m for m in ("mmwsss", "torch", "mmcv", "mmengine", "mmseg", "numpy")'
            ' if m in sys.modules))')
    p = subprocess.run([sys.executable, '-c', code], cwd='/', capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == ['[]']
