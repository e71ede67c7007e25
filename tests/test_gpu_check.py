"""tools/gpu_check.sh / tools/gpu_check.py --dry-run on the CPU: every part reports,
with the same schema as a GPU run, and a part cut short keeps the parts before it."""
import json
import math
import os
import os.path as osp
import subprocess
import sys

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
    assert '| recipe | crop | batch/GPU | s/iter on the fly |' in md
    for title in ('## a.', '## b.', '## c.', '## d.', '| knet | 64×64 |'):
        assert title in md, title
    assert osp.isfile(osp.join(out, 'logs', 'a_junit.xml'))


def test_a_part_cut_short_keeps_the_parts_before_it(tmp_path):
    """And with --scratch (as gpu_check.sh gives on the lent machine, which returns at
    most 8 small files of OUT) OUT holds the report alone."""
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
