"""Check mmwsss on a GPU node in one run whose report grows as it goes.

    python tools/gpu_check.py --out OUT [--dry-run] [--parts a,b,c,d] [--iters N]
        [--time-limit S] [--timeout PART=S ...] [--recipes NAME,...] [--nproc N] [--scratch DIR]

Run it on the node, in the environment mmwsss is installed in, with every GPU the
segmentors should train on visible. Parts, each in its own process with its own timeout
(output in SCRATCH/logs/, SCRATCH defaulting to OUT); what "passed" means for each is
:func:`criteria` (printed beside each result, and by ``--help``):
  a  ``pytest -m cuda tests/test_cuda.py``: the EPS classifier's train step (EPS and IRD
     losses), PAMR, make_cams and ``tools/test.py --crf`` on CUDA against CPU, SyncBN
     under torchrun with NCCL; pass / fail / skip per test (JUnit XML).
  b  the four segmentor recipes (configs/wsss/recipes/, through their ``_cam-vst``
     leaves) under ``torchrun --nproc_per_node=<GPUs>``, ITERS iterations at the
     recipe's crop and per-GPU batch on generated VOC-size data, once with pseudo
     labels made on the fly and once with the same labels precomputed as PNGs:
     s/iter and data time (medians after warm-up, mmengine's scalars.json) and peak
     GPU memory against mmseg's model zoo. One torchrun per recipe trains both.
  c  the ResNet-38 EPS classifier at 448×448, batch 8: forward + backward + step with
     no saliency loss, EPS, IRD and the literal IRD; the losses' share of the step.
  d  ``tools/train.py --amp`` on DeepLab-V3+ (bf16 where supported, else fp16).

OUT/gpu_check.json and OUT/gpu_check.md are rewritten (atomically) whenever a result
is known, so a run cut short still reports what it measured. Each part's timeout is
its share of ``--time-limit`` (``TIMEOUT_SHARES``) unless ``--timeout`` sets it.
OUT/install.json (the install step of tools/gpu_check.sh) is merged in when that
script names it (``GPU_CHECK_INSTALL_JSON``): one an earlier run left in OUT is not.

``--dry-run`` runs the same parts on the CPU at toy sizes (gloo for NCCL, BN for
SyncBN, one process, 2 iterations, 64×64 crops; the CUDA tests skip): it checks this
script and the report, not the GPU. Exit status: 0 when no part failed or timed out.
"""
import argparse
import datetime
import glob
import json
import math
import os
import os.path as osp
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import textwrap
import time
import traceback
import uuid
import xml.etree.ElementTree as ET

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)  # mmwsss from this checkout, as tools/train.py
SCHEMA = 1


def _load_argtypes():
    """mmwsss's bounded argparse types, read from their file: ``import mmwsss`` loads
    the whole stack, which part env is there to check, so the options cannot wait on it."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        'mmwsss_argtypes', osp.join(ROOT, 'mmwsss', 'cli', 'argtypes.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_argtypes = _load_argtypes()
int_at_least, nonneg_int = _argtypes.int_at_least, _argtypes.nonneg_int
positive_float, positive_int = _argtypes.positive_float, _argtypes.positive_int

PARTS = {
    'a': 'pytest -m cuda (tests/test_cuda.py)',
    'b': 'segmentor recipes under torchrun: on-the-fly vs precomputed pseudo labels',
    'c': 'ResNet-38 classifier step: cost of the saliency losses',
    'd': 'AMP: tools/train.py --amp (DeepLab-V3+)',
}

# recipe: its leaf with on-the-fly labels (CAM + saliency, τ 0.1), and mmseg 1.2.2's
# model-zoo "Mem (GB)" for the same network, crop and per-GPU batch (V100)
RECIPES = {
    'deeplabv2': ('configs/wsss/deeplabv2_r101-d8_2xb10-10k_voc12aug-321x321_cam-vst.py',
                  None, 'n/a: DeepLab-V2 is not in mmseg'),
    'deeplabv3plus': ('configs/wsss/deeplabv3plus_r101-d8_4xb4-40k_voc12aug-512x512_cam-vst.py',
                      11.0, 'mmseg configs/deeplabv3plus: R-101-D8 512x512 VOC aug 20k, 4 per GPU'),
    'segformer': ('configs/wsss/segformer_mit-b5_8xb2-40k_voc12aug-512x512_cam-vst.py',
                  7.2, 'mmseg configs/segformer: MiT-B5 512x512 ADE20K 160k, 2 per GPU'),
    'knet': ('configs/wsss/knet-s3_swin-l_upernet_8xb2-adamw-40k_voc12aug-512x512_cam-vst.py',
             13.5, 'mmseg configs/knet: K-Net UPerNet Swin-L 512x512 ADE20K 80k, 2 per GPU'),
}
# The dry run shrinks every network (the real ones build and take a step on the CPU
# in tests/test_configs.py): 8 trainings of the real Swin-L, MiT-B5 and R-101s would
# take minutes on 2 cores. Widths keep each architecture's ratios.
_KNET_HEAD = dict(in_channels=16, out_channels=16, feedforward_channels=32, num_heads=2,
                  kernel_updator_cfg=dict(in_channels=8, feat_channels=8, out_channels=8))
DRY_MODELS = {
    'deeplabv2': {'model.backbone': dict(depth=18, stem_channels=16, base_channels=8),
                  'model.decode_head.in_channels': 64},
    'deeplabv3plus': {
        'model.backbone': dict(depth=18, stem_channels=16, base_channels=8),
        'model.decode_head': dict(in_channels=64, channels=16, c1_in_channels=8,
                                  c1_channels=8),
        'model.auxiliary_head': dict(in_channels=32, channels=8)},
    'segformer': {'model.backbone': dict(embed_dims=8, num_layers=[1, 1, 1, 1]),
                  'model.decode_head': dict(in_channels=[8, 16, 40, 64], channels=16)},
    'knet': dict({'model.backbone': dict(embed_dims=16, depths=[1, 1, 1, 1],
                                         num_heads=[1, 1, 1, 1]),
                  'model.decode_head.kernel_generate_head': dict(
                      in_channels=[16, 32, 64, 128], channels=16),
                  'model.auxiliary_head': dict(in_channels=64, channels=8)},
                 **{f'model.decode_head.kernel_update_head.{i}': _KNET_HEAD
                    for i in range(3)}),
}
DRY_CLS_MODEL = {'model.backbone.base_channels': 4, 'model.in_channels': 256}
AMP_RECIPE = 'deeplabv3plus'
CLS_CONFIG = 'configs/eps/ird_resnet38_1xb8-20k_voc12aug-448x448.py'
VARIANTS = ('on_the_fly', 'precomputed')
LOSSES = ('none', 'eps', 'ird', 'ird_literal')

# Sizes: the GPU run, and the CPU dry run (seconds on 2 cores, same code paths). On a GPU
# each part's timeout is its share of the time limit: they add up to more than the whole,
# so a part that hangs stops in time for the others and a slow part may use what is left.
GPU = dict(iters=20, num_images=40, image_hw=(375, 500), crop=None, batch=None, workers=None,
           cls_size=448, cls_batch=8, cls_steps=10, cls_warmup=3, amp_iters=10,
           time_limit=1800, timeouts=None)
TIMEOUT_SHARES = dict(prepare=0.27, a=0.45, b=0.73, c=0.23, d=0.27)
DRY = dict(iters=2, num_images=6, image_hw=(72, 96), crop=(64, 64), batch=2, workers=0,
           cls_size=32, cls_batch=2, cls_steps=2, cls_warmup=1, amp_iters=2,
           time_limit=300, timeouts=dict(prepare=60, a=60, b=150, c=60, d=60))


def criteria(sizes: dict) -> dict:
    """Per part: ``criterion``, what its status ``passed`` requires, and ``reported``,
    the figures it measures without judging them (None when there are none)."""
    return {
        'a': dict(criterion=(
            'every test of tests/test_cuda.py passes on CUDA: the classifier\'s losses '
            'and gradients finite (EPS and IRD losses); PAMR within 1e-5 of the CPU; '
            'CAMs of make_cams within 0.02 of the CPU\'s (float16 store); test.py --crf '
            'labels >= 99 % equal to the CPU\'s; SyncBN under NCCL with the same '
            'statistics on every rank (a test whose optional extra is missing, e.g. '
            'pydensecrf2, is skipped). Without CUDA every test is skipped: status skipped'),
            reported=None),
        'b': dict(criterion=(
            f"each recipe trains {sizes['iters']} iterations with a finite loss under "
            'torchrun (a process per GPU, or --nproc), once with pseudo labels made on the '
            'fly and once with them precomputed'),
            reported=(
            's/iter and data time (ratio on the fly / precomputed near 1 when the data '
            "loader keeps up); peak GPU memory beside mmseg's model-zoo figure for the "
            'same network, crop and per-GPU batch (V100; similar expected)')),
        'c': dict(criterion=(
            f"{sizes['cls_warmup'] + sizes['cls_steps']} steps with each saliency loss "
            '(none, EPS, IRD, literal IRD), each with a finite loss'),
            reported="s / step and each saliency loss's share of the step"),
        'd': dict(criterion=(
            f"tools/train.py --amp trains {sizes['amp_iters']} iterations with a finite "
            "loss through mmengine's AmpOptimWrapper (bf16 where the GPU supports it, "
            'else fp16); without CUDA: the same in float32, no AMP'),
            reported='s/iter and peak GPU memory'),
    }


def _parts_help(sizes: dict) -> str:
    lines = ['parts and their pass criteria:']
    for name, c in criteria(sizes).items():
        lines.append(f'  {name}  {PARTS[name]}')
        for label, text in (('pass', c['criterion']), ('reported, not judged', c['reported'])):
            if text:
                lines += textwrap.wrap(f'{label}: {text}', 88, initial_indent=' ' * 5,
                                       subsequent_indent=' ' * 7)
    return '\n'.join(lines)


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter,
                     argparse.RawDescriptionHelpFormatter):
    """Each option's default where its help does not give it (none for None or
    False: ``(default: None)`` says nothing), and the description and the parts'
    list as written."""

    def _get_help_string(self, action):
        if action.default in (None, False) or action.required or 'default' in action.help:
            return action.help
        return super()._get_help_string(action)


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        formatter_class=_HelpFormatter,
        description=textwrap.fill(
            'Check mmwsss on a GPU node: CUDA and NCCL against the CPU, the segmentor '
            'recipes, the saliency losses, AMP. Report: OUT/gpu_check.json and '
            'OUT/gpu_check.md, each part\'s result beside its pass criterion. Exit status '
            '0 when no part failed or timed out.', 88),
        epilog=_parts_help(GPU))
    p.add_argument('--out', required=True, help='report folder')
    p.add_argument('--scratch', default=None,
                   help='folder for the logs, per-part results, generated data and work '
                   'dirs (default: OUT); elsewhere keeps OUT to the report alone')
    p.add_argument('--dry-run', action='store_true',
                   help='the same parts on the CPU at toy sizes (checks the script)')
    p.add_argument('--parts', default='a,b,c,d',
                   help='comma-separated parts to run, in this order (default a,b,c,d)')
    p.add_argument('--iters', type=int_at_least(2), default=None,
                   help='training iterations per recipe and variant in b (default 20; '
                   'dry run 2)')
    p.add_argument('--recipes', default=','.join(RECIPES),
                   help=f'recipes of part b (default {",".join(RECIPES)})')
    p.add_argument('--nproc', type=positive_int, default=None,
                   help='processes per recipe in b (default: every GPU; dry run 1)')
    p.add_argument('--time-limit', type=positive_float, default=None,
                   help='seconds for the whole run; a part gets what is left at most '
                   f"(default {GPU['time_limit']}; dry run {DRY['time_limit']})")
    p.add_argument('--timeout', nargs='+', default=[], metavar='PART=S',
                   help='per-part timeouts in seconds, e.g. b=200 (parts: prepare, a-d; '
                   'default: each its share of --time-limit: ' + ', '.join(
                       f'{k} {round(100 * v)} %%' for k, v in TIMEOUT_SHARES.items()) + ')')
    # internal: the parts' own processes
    p.add_argument('--worker', choices=('prepare', 'b', 'c'), help=argparse.SUPPRESS)
    p.add_argument('--need-data', action='store_true', help=argparse.SUPPRESS)
    p.add_argument('--run-id', default=None, help=argparse.SUPPRESS)
    p.add_argument('--local_rank', '--local-rank', type=nonneg_int, default=0,
                   help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    args.sizes = dict(DRY if args.dry_run else GPU)
    if args.iters is not None:  # >= 2: one warm-up iteration
        args.sizes['iters'] = args.iters
    args.parts = [x.strip() for x in args.parts.split(',') if x.strip()]
    bad = [x for x in args.parts if x not in PARTS]
    if bad or not args.parts:
        p.error(f'--parts: unknown part(s) {bad}; choose from {",".join(PARTS)}')
    args.recipes = [x.strip() for x in args.recipes.split(',') if x.strip()]
    bad = [x for x in args.recipes if x not in RECIPES]
    if bad or not args.recipes:
        p.error(f'--recipes: unknown recipe(s) {bad}; choose from {",".join(RECIPES)}')
    if args.time_limit is None:
        args.time_limit = args.sizes['time_limit']
    timeouts = dict(args.sizes['timeouts'] or {
        k: round(share * args.time_limit) for k, share in TIMEOUT_SHARES.items()})
    for item in args.timeout:
        key, _, value = item.partition('=')
        try:
            timeouts[key] = positive_float(value)
        except argparse.ArgumentTypeError:
            key = None
        if key not in TIMEOUT_SHARES:
            p.error(f'--timeout {item!r}: want PART=SECONDS with PART in '
                    f'{",".join(TIMEOUT_SHARES)} and SECONDS > 0')
    args.timeouts = timeouts
    return args


# --- small helpers -------------------------------------------------------------------------
def now_iso() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


def write_atomic(path: str, text: str) -> None:
    """Readers see the old file or the new one, never half of one."""
    tmp = f'{path}.tmp{os.getpid()}'
    with open(tmp, 'w') as f:
        f.write(text)
    os.replace(tmp, path)


def read_json(path: str):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def median_after_warmup(values, warmup: int):
    values = [v for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
    kept = values[warmup:] or values[-1:]
    return statistics.median(kept) if kept else None


def warmup_of(iters: int) -> int:
    """Iterations left out of the medians: a quarter, at least one, never all."""
    return min(max(1, iters // 4), iters - 1)


def tail(path: str, lines: int = 25) -> str:
    try:
        with open(path, errors='replace') as f:
            return ''.join(f.readlines()[-lines:])
    except OSError:
        return ''


def read_scalars(log_dir: str) -> list:
    """mmengine's per-iteration training scalars (``<log_dir>/vis_data/scalars.json``)."""
    rows = []
    for path in glob.glob(osp.join(log_dir, 'vis_data', 'scalars.json')):
        with open(path) as f:
            rows += [json.loads(ln) for ln in f if ln.strip()]
    return [r for r in rows if 'time' in r and 'iter' in r]


def train_stats(rows: list, warmup: int) -> dict:
    """s/iter, data time, peak memory and the loss from scalars.json rows."""
    losses = [r.get('loss') for r in rows]
    mem = [r['memory'] for r in rows if isinstance(r.get('memory'), (int, float))]
    return dict(
        iters=len(rows),
        s_per_iter=median_after_warmup([r['time'] for r in rows], warmup),
        data_s_per_iter=median_after_warmup([r.get('data_time') for r in rows], warmup),
        # mmengine logs max_memory_allocated in MB on CUDA (rank 0), none on the CPU
        peak_mem_gib=round(max(mem) / 1024, 3) if mem else None,
        loss_first=losses[0] if losses else None,
        loss_last=losses[-1] if losses else None,
        loss_finite=bool(losses) and all(isinstance(v, (int, float)) and math.isfinite(v)
                                         for v in losses))


def ratio(a, b):
    return round(a / b, 3) if isinstance(a, (int, float)) and isinstance(b, (int, float)) \
        and b > 0 else None


# --- running a part's process --------------------------------------------------------------
class Interrupted(Exception):
    """SIGTERM / SIGINT: the run is being stopped (e.g. the machine's time is up)."""


def _on_signal(signum, frame):
    raise Interrupted(signal.Signals(signum).name)


def child_env(args) -> dict:
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(
        [ROOT] + ([env['PYTHONPATH']] if env.get('PYTHONPATH') else []))
    env['PYTHONUNBUFFERED'] = '1'
    if args.dry_run:
        env['CUDA_VISIBLE_DEVICES'] = ''  # a dry run is a CPU run, also on a GPU machine
    return env


def run_logged(cmd, log_path: str, timeout: float, env: dict) -> dict:
    """Run ``cmd`` in its own process group, output to ``log_path``; kill the whole
    group (torchrun and its ranks) at ``timeout`` or when this run is interrupted."""
    t0 = time.time()
    with open(log_path, 'a') as log:
        log.write(f'$ {" ".join(cmd)}\n')
        log.flush()
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        timed_out = False
        try:
            rc = proc.wait(timeout=max(1.0, timeout))
        except subprocess.TimeoutExpired:
            timed_out, rc = True, None
        finally:
            if proc.poll() is None:
                for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
                    try:
                        os.killpg(proc.pid, sig)
                        proc.wait(timeout=wait)
                        break
                    except (ProcessLookupError, subprocess.TimeoutExpired):
                        continue
            if timed_out:
                log.write(f'\n[gpu_check] killed after the timeout of {timeout:.0f} s\n')
    return dict(rc=rc, timed_out=timed_out, wall_s=round(time.time() - t0, 1))


# --- the report ----------------------------------------------------------------------------
class Report:
    """``gpu_check.json`` and ``gpu_check.md`` in OUT, rewritten at every change."""

    def __init__(self, args, argv):
        self.out = args.out
        self.t0 = time.time()
        self.data = dict(
            schema=SCHEMA, dry_run=bool(args.dry_run), started=now_iso(), updated=None,
            finished=False, wall_s=0.0, command=['tools/gpu_check.py'] + list(argv),
            sizes={k: v for k, v in args.sizes.items() if k != 'timeouts'},
            time_limit_s=args.time_limit, timeouts_s=args.timeouts, env=None,
            install=self._install(),
            parts={p: dict(title=PARTS[p], status='pending', result=None,
                           **criteria(args.sizes)[p]) for p in args.parts})

    def _install(self):
        # only the install that gpu_check.sh has just made, never one left in OUT before
        path = os.environ.get('GPU_CHECK_INSTALL_JSON')
        if not path or osp.realpath(path) != osp.realpath(osp.join(self.out, 'install.json')):
            return None
        if not osp.exists(path):
            return dict(error=f'{path} was not written')
        got = read_json(path)
        return got if got is not None else dict(error=f'{path} is not valid JSON')

    def part(self, name: str) -> dict:
        return self.data['parts'][name]

    def write(self) -> None:
        self.data['updated'] = now_iso()
        self.data['wall_s'] = round(time.time() - self.t0, 1)
        write_atomic(osp.join(self.out, 'gpu_check.json'),
                     json.dumps(self.data, indent=1, default=str) + '\n')
        write_atomic(osp.join(self.out, 'gpu_check.md'), render_md(self.data))


def _fmt(v, digits=3):
    if v is None:
        return '–'
    if isinstance(v, bool):
        return 'yes' if v else 'no'
    if isinstance(v, float):
        return f'{v:.{digits}g}' if abs(v) < 1e4 else f'{v:.0f}'
    return str(v)


def _pct(v):
    return '–' if v is None else f'{100 * v:+.0f} %'


def render_md(d: dict) -> str:
    env = d.get('env') or {}
    lines = ['# mmwsss GPU check (tools/gpu_check.py)', '']
    if d['dry_run']:
        lines += ['**CPU DRY RUN: toy sizes and shrunk networks on the CPU. These are not GPU '
                  'figures.**', '']
    lines += [f"Started {d['started']}, updated {d['updated']}, {d['wall_s']:.0f} s so far"
              f"{', finished' if d['finished'] else ', not finished (cut short or running)'}.",
              '']
    if env:
        gpus = env.get('gpu_names') or []
        lines += ['| python | torch | CUDA (torch) | GPUs | mmcv | mmcv ops CUDA | mmengine | '
                  'mmseg |', '|---|---|---|---|---|---|---|---|',
                  f"| {env.get('python')} | {env.get('torch')} | {_fmt(env.get('torch_cuda'))} | "
                  f"{env.get('gpu_count', 0)}{' × ' + gpus[0] if gpus else ''} | "
                  f"{env.get('mmcv')} | {_fmt(env.get('mmcv_ops_cuda'))} | "
                  f"{env.get('mmengine')} | {env.get('mmseg')} |", '']
    if d.get('install'):
        inst = d['install']
        lines += ['Install (tools/gpu_check.sh): ' + ', '.join(
            f'{k}: {_fmt(v)}' for k, v in inst.items()
            if not isinstance(v, (dict, list)))[:600], '']
    lines += ['| part | what | status | pass criterion | wall s | summary |',
              '|---|---|---|---|---|---|']
    for name, p in d['parts'].items():
        lines.append(f"| {name} | {p['title']} | **{p['status']}** | {p.get('criterion')} | "
                     f"{_fmt(p.get('wall_s'))} | {p.get('summary', '')} |")
    lines.append('')
    for name, p in d['parts'].items():
        r = p.get('result') or {}
        body = {'a': _md_a, 'b': _md_b, 'c': _md_c, 'd': _md_d}[name](r) if r else []
        if body or p['status'] not in ('passed', 'pending'):
            judged = [f"**{p['status']}**. Pass: {p.get('criterion')}."]
            if p.get('reported'):
                judged.append(f"Reported, not judged: {p['reported']}.")
            lines += [f"## {name}. {p['title']}", '', ' '.join(judged), ''] + body
        if p['status'] not in ('passed', 'skipped', 'pending') and p.get('log_tail'):
            lines += [f"Last lines of `{p.get('log')}`:", '```', p['log_tail'].rstrip(), '```',
                      '']
    return '\n'.join(lines) + '\n'


def _md_a(r):
    c = r.get('counts', {})
    out = [f"{c.get('passed', 0)} passed, {c.get('failed', 0)} failed, "
           f"{c.get('error', 0)} errors, {c.get('skipped', 0)} skipped", '',
           '| test | outcome | s | message |', '|---|---|---|---|']
    for t in r.get('tests', []):
        msg = (t.get('message') or '').replace('|', '/').replace('\n', ' ')[:160]
        out.append(f"| {t['name']} | {t['outcome']} | {_fmt(t.get('time_s'))} | {msg} |")
    return out + ['']


def _md_b(r):
    out = [f"{r.get('nproc')} process(es), {r.get('iters')} iterations per run "
           f"(medians of the iterations after the first {r.get('warmup')}), "
           f"{r.get('num_images')} generated images {r.get('image_hw')}; ratio = on the fly / "
           'precomputed.', '',
           '| recipe | crop | batch/GPU | s/iter on the fly | s/iter precomputed | ratio | '
           'data s/iter on the fly | data s/iter precomputed | ratio | peak GiB on the fly | '
           'peak GiB precomputed | mmseg zoo Mem (GB) |',
           '|---|---|---|---|---|---|---|---|---|---|---|---|']
    for name, x in (r.get('recipes') or {}).items():
        o, p = x.get('on_the_fly') or {}, x.get('precomputed') or {}
        crop = x.get('crop')
        out.append(
            f"| {name} | {'×'.join(map(str, crop)) if crop else '–'} | {_fmt(x.get('batch'))} | "
            f"{_fmt(o.get('s_per_iter'))} | {_fmt(p.get('s_per_iter'))} | "
            f"{_fmt(x.get('ratio_s_per_iter'))} | {_fmt(o.get('data_s_per_iter'))} | "
            f"{_fmt(p.get('data_s_per_iter'))} | {_fmt(x.get('ratio_data_time'))} | "
            f"{_fmt(o.get('peak_mem_gib'))} | {_fmt(p.get('peak_mem_gib'))} | "
            f"{_fmt(x.get('model_zoo_mem_gb')) if x.get('model_zoo_mem_gb') else 'n/a'} |")
    errors = [f"- {name} {v}: {(x.get(v) or {})['error'][-300:]}"
              for name, x in (r.get('recipes') or {}).items() for v in VARIANTS
              if (x.get(v) or {}).get('error')]
    return out + [''] + (errors + [''] if errors else [])


def _md_c(r):
    out = [f"{r.get('device')}, {r.get('size')}×{r.get('size')}, batch {r.get('batch')}, "
           f"median of {r.get('steps')} steps after {r.get('warmup')} warm-up; overhead = "
           '(step − step without saliency loss) / step.', '',
           '| saliency loss | s / step | overhead | peak GiB | loss |', '|---|---|---|---|---|']
    for name, v in (r.get('variants') or {}).items():
        out.append(f"| {name} | {_fmt(v.get('step_s'))} | {_pct(v.get('overhead'))} | "
                   f"{_fmt(v.get('peak_mem_gib'))} | {_fmt(v.get('loss'))} |")
    return out + ['']


def _md_d(r):
    return [f"AMP {'on' if r.get('amp') else 'off'}, dtype {r.get('dtype')}"
            f"{' (' + r['note'] + ')' if r.get('note') else ''}", '',
            '| iters | s/iter | peak GiB | loss first | loss last | loss finite |',
            '|---|---|---|---|---|---|',
            f"| {_fmt(r.get('iters'))} | {_fmt(r.get('s_per_iter'))} | "
            f"{_fmt(r.get('peak_mem_gib'))} | {_fmt(r.get('loss_first'))} | "
            f"{_fmt(r.get('loss_last'))} | {_fmt(r.get('loss_finite'))} |", '']


# --- the parts, as the main process runs them -----------------------------------------------
class Checks:
    """Runs the parts in order within the time limit, updating the report."""

    def __init__(self, args, report):
        self.args, self.report = args, report
        self.env = child_env(args)
        self.deadline = time.time() + args.time_limit
        self.logs = osp.join(args.scratch, 'logs')
        self.parts_dir = osp.join(args.scratch, 'parts')
        self.work = osp.join(args.scratch, 'work')
        for d in (self.logs, self.parts_dir, self.work):
            os.makedirs(d, exist_ok=True)
        # a rerun into the same folders: nothing of an earlier run's may pass for this
        # one's (a worker that dies before writing leaves no result, not the last one)
        stale = glob.glob(osp.join(self.parts_dir, '*.json')) + [
            osp.join(self.logs, 'a_junit.xml'), osp.join(self.work, 'd', 'config.py')]
        for path in stale:
            if osp.lexists(path):
                os.remove(path)
        if osp.isdir(osp.join(self.work, 'd', 'run')):
            shutil.rmtree(osp.join(self.work, 'd', 'run'))
        self.py = sys.executable
        self.worker = [self.py, osp.abspath(__file__), '--out', args.out,
                       '--scratch', args.scratch, '--run-id', args.run_id] + \
            (['--dry-run'] if args.dry_run else [])
        self.hw = {}

    def budget(self, key: str) -> float:
        return min(self.args.timeouts[key], self.deadline - time.time())

    def say(self, msg: str) -> None:
        print(f'[gpu_check {time.strftime("%H:%M:%S")}] {msg}', flush=True)

    def prepare(self) -> None:
        """Environment (in a process: an mmcv built for another CUDA may crash on
        import) and, for b and d, the generated data."""
        need = any(p in self.args.parts for p in 'bd')
        self.say('environment' + (' and generated data' if need else ''))
        log = osp.join(self.logs, 'prepare.log')
        run = run_logged(self.worker + ['--worker', 'prepare'] + (['--need-data'] if need else []),
                         log, self.budget('prepare'), self.env)
        env = read_part(self.args, 'env') or dict(
            error=f'the environment step failed ({run}); see logs/prepare.log',
            log_tail=tail(log))
        self.report.data['env'] = env
        self.report.write()
        self.hw = env
        self.say(f"torch {env.get('torch')}, CUDA {env.get('torch_cuda')}, "
                 f"{env.get('gpu_count', 0)} GPU(s) {', '.join(env.get('gpu_names') or [])}")

    def run_part(self, name: str) -> None:
        part = self.report.part(name)
        left = self.deadline - time.time()
        if left < 10:
            part.update(status='not_run', summary=f'time limit ({self.args.time_limit:.0f} s) '
                        'reached before it started')
            self.report.write()
            self.say(f'{name}: not run (time limit)')
            return
        self.say(f'{name}: {PARTS[name]} ...')
        part.update(status='running', started=now_iso())
        self.report.write()
        t0 = time.time()
        try:
            getattr(self, f'part_{name}')(part)
        except Interrupted:
            part.update(status='interrupted', summary='the run was stopped during this part')
            raise
        except Exception as e:  # a bug here must not lose the other parts
            part.update(status='failed', summary=f'gpu_check error: {e!r}',
                        log_tail=traceback.format_exc())
        finally:
            part['wall_s'] = round(time.time() - t0, 1)
            self.report.write()
        self.say(f"{name}: {part['status']} in {part['wall_s']:.0f} s — "
                 f"{part.get('summary', '')}\n" + textwrap.fill(
                     part['criterion'], 96, initial_indent='    pass: ',
                     subsequent_indent=' ' * 10))

    def _finish(self, part, run, log):
        part['log'] = osp.relpath(log, self.args.scratch)
        if run['timed_out']:
            part['status'] = 'timeout'
        if part['status'] not in ('passed', 'skipped'):
            part['log_tail'] = tail(log)

    # a -------------------------------------------------------------------------------------
    def part_a(self, part):
        log = osp.join(self.logs, 'a.log')
        junit = osp.join(self.logs, 'a_junit.xml')
        cmd = [self.py, '-m', 'pytest', '-m', 'cuda', 'tests/test_cuda.py', '-v', '-rs',
               '-p', 'no:cacheprovider', f'--junitxml={junit}']
        run = run_logged(cmd, log, self.budget('a'), self.env)
        # pytest writes the XML at the end: a run killed midway leaves only its log
        tests = parse_junit(junit) or parse_pytest_log(log)
        counts = {k: sum(t['outcome'] == k for t in tests)
                  for k in ('passed', 'failed', 'error', 'skipped')}
        part['result'] = dict(counts=counts, tests=tests, rc=run['rc'])
        if counts['failed'] or counts['error'] or (run['rc'] not in (0, None) and not tests):
            part['status'] = 'failed'
        elif tests and counts['skipped'] == len(tests):
            part['status'] = 'skipped'
        else:
            part['status'] = 'passed' if tests else 'failed'
        part['summary'] = ', '.join(f'{v} {k}' for k, v in counts.items() if v) or 'no tests ran'
        self._finish(part, run, log)

    # b -------------------------------------------------------------------------------------
    def part_b(self, part):
        a = self.args
        nproc = a.nproc or (1 if a.dry_run else max(1, int(self.hw.get('gpu_count') or 0)))
        iters = a.sizes['iters']
        result = dict(nproc=nproc, iters=iters, warmup=warmup_of(iters),
                      num_images=a.sizes['num_images'], image_hw=list(a.sizes['image_hw']),
                      recipes={})
        part['result'] = result
        # one torchrun per recipe (both variants in it); a dry run: one for all
        groups = [a.recipes] if a.dry_run else [[r] for r in a.recipes]
        t_end = time.time() + self.budget('b')
        status, timed_out = 'passed', False
        for i, group in enumerate(groups):
            left = t_end - time.time()
            if left < 2:
                for r in group:
                    result['recipes'][r] = {v: dict(error='not run: part b ran out of time')
                                            for v in VARIANTS}
                timed_out = True
                continue
            name = 'b' if len(groups) == 1 else f'b_{group[0]}'
            log = osp.join(self.logs, name + '.log')
            cmd = [self.py, '-m', 'torch.distributed.run', '--nnodes=1',
                   f'--nproc_per_node={nproc}', '--master_addr=127.0.0.1',
                   f'--master_port={free_port()}'] + self.worker[1:] + [
                       '--worker', 'b', '--recipes', ','.join(group), '--iters', str(iters)]
            self.say(f"b: {', '.join(group)} ({nproc} process(es), {iters} iterations × 2)")
            interrupted = None
            try:
                run = run_logged(cmd, log, left / (len(groups) - i), self.env)
            except Interrupted as e:  # keep what the ranks wrote, then stop
                interrupted, run = e, dict(rc=None, timed_out=False)
            timed_out |= run['timed_out']
            for r in group:
                got = read_part(a, f'b.{r}') or {}
                for v in VARIANTS:
                    if not (got.get(v) or {}).get('s_per_iter'):
                        got.setdefault(v, {}).setdefault(
                            'error', 'timeout' if run['timed_out'] else
                            f'no result (exit status {run["rc"]}; see {osp.basename(log)})')
                first = [got[v].get('loss_first') for v in VARIANTS]
                if all(isinstance(x, float) for x in first):
                    # same seed, same labels: the first losses should (nearly) agree
                    got['loss_first_rel_diff'] = abs(first[0] - first[1]) / max(
                        abs(first[1]), 1e-12)
                got.update(ratio_s_per_iter=ratio(got['on_the_fly'].get('s_per_iter'),
                                                  got['precomputed'].get('s_per_iter')),
                           ratio_data_time=ratio(got['on_the_fly'].get('data_s_per_iter'),
                                                 got['precomputed'].get('data_s_per_iter')),
                           model_zoo_mem_gb=RECIPES[r][1], model_zoo_source=RECIPES[r][2],
                           log=osp.relpath(log, a.out))
                result['recipes'][r] = got
                if any(got[v].get('error') or not got[v].get('loss_finite') for v in VARIANTS):
                    status = 'failed'
                    part.setdefault('log_tail', '')
                    part['log_tail'] += f'--- {osp.basename(log)}\n{tail(log, 15)}'
            self.report.write()
            if interrupted:
                raise interrupted
        part['status'] = 'timeout' if timed_out else status
        ok = [r for r, x in result['recipes'].items() if x.get('ratio_s_per_iter')]
        ratios = ', '.join(f"{r} {result['recipes'][r]['ratio_s_per_iter']:.2f}" for r in ok)
        part['summary'] = f'{len(ok)}/{len(a.recipes)} recipes measured' + (
            f'; s/iter on the fly / precomputed: {ratios}' if ok else '')
        part['log'] = 'logs/b*.log'

    # c -------------------------------------------------------------------------------------
    def part_c(self, part):
        log = osp.join(self.logs, 'c.log')
        run = run_logged(self.worker + ['--worker', 'c'], log, self.budget('c'), self.env)
        got = read_part(self.args, 'c')
        part['result'] = got
        done = got and all('step_s' in (got.get('variants') or {}).get(v, {}) for v in LOSSES)
        finite = done and all(math.isfinite(got['variants'][v]['loss']) for v in LOSSES)
        part['status'] = 'passed' if run['rc'] == 0 and finite else 'failed'
        if got and got.get('variants', {}).get('ird', {}).get('overhead') is not None:
            v = got['variants']
            part['summary'] = (f"step {v['none']['step_s']:.3g} s without saliency loss; "
                               f"IRD {_pct(v['ird']['overhead'])}, literal IRD "
                               f"{_pct(v.get('ird_literal', {}).get('overhead'))}, EPS "
                               f"{_pct(v.get('eps', {}).get('overhead'))} of the step")
        else:
            part['summary'] = 'no timing'
        self._finish(part, run, log)

    # d -------------------------------------------------------------------------------------
    def part_d(self, part):
        a = self.args
        cfg = osp.join(self.work, 'd', 'config.py')
        work = osp.join(self.work, 'd', 'run')
        log = osp.join(self.logs, 'd.log')
        cuda = bool(self.hw.get('gpu_count')) and not a.dry_run
        dtype = 'bfloat16' if self.hw.get('bf16_supported') else 'float16'
        result = dict(recipe=AMP_RECIPE, amp=cuda, dtype=dtype if cuda else 'float32')
        if not cuda:  # mmengine's AmpOptimWrapper asserts a GPU (or NPU / MLU)
            result['note'] = 'no CUDA: trained in float32 without --amp'
        part['result'] = result
        if not osp.isfile(cfg):
            part.update(status='failed', summary='no config: the prepare step did not write '
                        f'{osp.relpath(cfg, a.scratch)} (see logs/prepare.log)')
            return
        cmd = [self.py, osp.join(ROOT, 'tools', 'train.py'), cfg, '--work-dir', work]
        if cuda:
            cmd += ['--amp', '--cfg-options', f'optim_wrapper.dtype={dtype}']
        run = run_logged(cmd, log, self.budget('d'), self.env)
        runs = sorted(d for d in glob.glob(osp.join(work, '*')) if osp.isdir(d))
        rows = read_scalars(runs[-1]) if runs else []
        iters = a.sizes['amp_iters']
        result.update(train_stats(rows, warmup_of(iters)))
        if cuda:  # the optimizer wrapper the run really used
            dumped = glob.glob(osp.join(runs[-1], 'vis_data', 'config.py')) if runs else []
            result['amp_optim_wrapper'] = bool(dumped) and 'AmpOptimWrapper' in open(
                dumped[0]).read()
        part['status'] = 'passed' if run['rc'] == 0 and result['loss_finite'] and \
            result['iters'] == iters and result.get('amp_optim_wrapper', True) else 'failed'
        part['summary'] = (f"{result['dtype']}, {result['iters']} iterations, loss "
                           f"{_fmt(result['loss_first'])} → {_fmt(result['loss_last'])}"
                           f"{'' if result['loss_finite'] else ' NOT FINITE'}")
        self._finish(part, run, log)


def parse_junit(path: str) -> list:
    """Per test: name, outcome (passed / failed / error / skipped), seconds, message."""
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        return []
    tests = []
    for case in root.iter('testcase'):
        outcome, message = 'passed', ''
        for tag in ('failure', 'error', 'skipped'):
            el = case.find(tag)
            if el is not None:
                outcome = {'failure': 'failed'}.get(tag, tag)
                message = el.get('message') or (el.text or '')[-500:]
                break
        tests.append(dict(name=f"{case.get('classname', '')}::{case.get('name')}",
                          outcome=outcome, time_s=float(case.get('time') or 0),
                          message=message.strip()[:500]))
    return tests


def parse_pytest_log(path: str) -> list:
    """The outcomes ``pytest -v`` printed before it was stopped."""
    tests = []
    try:
        with open(path, errors='replace') as f:
            for line in f:
                m = re.match(r'(\S+::\S+) (PASSED|FAILED|SKIPPED|ERROR)', line)
                if m:
                    tests.append(dict(name=m.group(1), outcome=m.group(2).lower(), time_s=None,
                                      message='(from the log)'))
    except OSError:
        pass
    return tests


def run_checks(args, argv) -> int:
    args.out = osp.abspath(args.out)
    args.scratch = osp.abspath(args.scratch or args.out)
    # each part's result carries it: an earlier run's file never passes for this one's
    args.run_id = f'{time.strftime("%Y%m%dT%H%M%S")}-{os.getpid()}-{uuid.uuid4().hex[:8]}'
    os.makedirs(args.out, exist_ok=True)
    # restored at the end: run in-process (tests), the caller's handlers come back
    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    report = Report(args, argv)
    report.write()
    checks = Checks(args, report)
    checks.say(f"{'CPU DRY RUN, ' if args.dry_run else ''}parts {','.join(args.parts)}, "
               f'time limit {args.time_limit:.0f} s; report: {args.out}/gpu_check.md')
    try:
        checks.prepare()
        for name in args.parts:
            checks.run_part(name)
        report.data['finished'] = True
    except Interrupted as e:
        report.data['interrupted'] = str(e)
        checks.say(f'interrupted ({e}); the report keeps what was measured')
    finally:
        report.write()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    bad = [n for n, p in report.data['parts'].items()
           if p['status'] not in ('passed', 'skipped')]
    checks.say(f"done in {report.data['wall_s']:.0f} s: " +
               (f"not passed: {', '.join(bad)}" if bad else 'every part passed') +
               f' — {args.out}/gpu_check.md')
    return 1 if bad else 0


# --- workers: the parts' own processes ------------------------------------------------------
def _write_part(args, name: str, obj: dict) -> None:
    """SCRATCH/parts/<name>.json, stamped with this run's id (see :func:`read_part`)."""
    write_atomic(osp.join(args.scratch, 'parts', name + '.json'),
                 json.dumps(dict(obj, run_id=args.run_id), indent=1, default=str) + '\n')


def read_part(args, name: str):
    """A part's result written by a worker of this run, or None (absent, damaged, or
    left by an earlier run into the same folder: its run id differs)."""
    got = read_json(osp.join(args.scratch, 'parts', name + '.json'))
    if not isinstance(got, dict) or got.get('run_id') != args.run_id:
        return None
    return {k: v for k, v in got.items() if k != 'run_id'}


def worker_prepare(args) -> None:
    """env.json; with --need-data the generated data and part d's config."""
    import importlib.metadata as md
    import platform

    import torch
    env = dict(python=platform.python_version(), platform=platform.platform(),
               torch=torch.__version__, torch_cuda=torch.version.cuda,
               cudnn=torch.backends.cudnn.version() if torch.backends.cudnn.is_available()
               else None, cuda_available=torch.cuda.is_available(),
               gpu_count=torch.cuda.device_count() if torch.cuda.is_available() else 0)
    if env['gpu_count']:
        props = [torch.cuda.get_device_properties(i) for i in range(env['gpu_count'])]
        env.update(gpu_names=[p.name for p in props],
                   gpu_mem_gib=[round(p.total_memory / 2**30, 1) for p in props],
                   capability=[f'{p.major}.{p.minor}' for p in props],
                   bf16_supported=torch.cuda.is_bf16_supported(),
                   nccl='.'.join(map(str, torch.cuda.nccl.version())))
    for pkg in ('numpy', 'torchvision', 'mmcv', 'mmengine', 'mmsegmentation', 'mmpretrain',
                'pydensecrf2', 'mmwsss'):
        try:
            env[pkg if pkg != 'mmsegmentation' else 'mmseg'] = md.version(pkg)
        except md.PackageNotFoundError:
            env[pkg if pkg != 'mmsegmentation' else 'mmseg'] = None
    _write_part(args, 'env', env)
    try:  # mmseg imports mmcv.ops: a failure here is what the report must show
        from mmcv.ops import get_compiler_version, get_compiling_cuda_version
        compiled = get_compiling_cuda_version()
        env.update(mmcv_ops=True, mmcv_ops_compiler=get_compiler_version(),
                   mmcv_ops_cuda_version=compiled,
                   mmcv_ops_cuda=compiled not in (None, '', 'not available'))
    except Exception as e:
        env.update(mmcv_ops=False, mmcv_ops_cuda=False, mmcv_ops_error=repr(e))
    _write_part(args, 'env', env)
    if args.need_data:
        prepare_data(args)
    if env['gpu_count'] and env.get('mmcv_ops_cuda'):
        try:  # one CUDA kernel of mmcv.ops, run for real
            from mmcv.ops import nms
            boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 11., 11.]], device='cuda')
            nms(boxes, torch.tensor([0.9, 0.8], device='cuda'), 0.5)
            torch.cuda.synchronize()
            env['mmcv_ops_cuda_run'] = True
        except Exception as e:
            env.update(mmcv_ops_cuda_run=False, mmcv_ops_cuda_error=repr(e))
        _write_part(args, 'env', env)


def prepare_data(args) -> None:
    from mmseg.utils import register_all_modules

    import mmwsss  # noqa: F401
    from mmwsss.testing import make_voc_like_data
    register_all_modules(init_default_scope=True)
    s = args.sizes
    t0 = time.time()
    root = osp.join(args.scratch, 'work', 'data')
    data = make_voc_like_data(root, s['num_images'], tuple(s['image_hw']))
    info = dict(data.__dict__, ids=len(data.ids), seconds=round(time.time() - t0, 1))
    _write_part(args, 'data', info)
    print(f'{len(data.ids)} images {s["image_hw"]} under {root} '
          f'({info["seconds"]:.1f} s)', flush=True)
    # part d: the DeepLab-V3+ leaf on this data, as a file for tools/train.py
    cfg = recipe_config(args, AMP_RECIPE, 'on_the_fly', info, s['amp_iters'],
                        osp.join(args.scratch, 'work', 'd', 'run'), launcher='none')
    os.makedirs(osp.join(args.scratch, 'work', 'd'), exist_ok=True)
    cfg.dump(osp.join(args.scratch, 'work', 'd', 'config.py'))


def recipe_config(args, recipe: str, variant: str, data: dict, iters: int, work_dir: str,
                  launcher: str = 'pytorch'):
    """A recipe's ``_cam-vst`` leaf pointed at the generated data, as a user would with
    ``--cfg-options``; ``precomputed``: the same labels read as PNGs by
    ``LoadAnnotations`` (``pseudo_labels=False``). Nothing downloads, no validation, no
    checkpoint, a log line per iteration."""
    from mmengine.config import Config

    from mmwsss.config import load_config
    cfg = load_config(osp.join(ROOT, RECIPES[recipe][0]), {
        'train_dataloader.dataset.data_root': data['root'],
        'train_dataloader.dataset.maps_root': data['root'],
        'train_dataloader.dataset.ann_file': data['ann_file'],
        'train_dataloader.dataset.cls_label_file': data['cls_label_file'],
        'train_dataloader.dataset.data_prefix.cam_path': data['cam_path'],
        'train_dataloader.dataset.data_prefix.sal_path': data['sal_path'],
    })
    ds = cfg.train_dataloader.dataset
    if variant == 'precomputed':
        ds.pseudo_labels = False
        ds.pop('pseudo_label_cfg', None)
        ds.data_prefix = dict(img_path=data['img_path'], seg_map_path=data['label_path'])
        ds.pipeline = [ds.pipeline[0], dict(type='LoadAnnotations')] + list(ds.pipeline[1:])
    cfg.model.pretrained = None
    cfg.model.backbone.init_cfg = None
    s = args.sizes
    if args.dry_run:  # toy networks, crops and batches, no loader workers
        cfg.merge_from_dict(DRY_MODELS[recipe])
        cfg.model.data_preprocessor.size = s['crop']
        for t in ds.pipeline:
            if t['type'] == 'RandomCrop':
                t['crop_size'] = s['crop']
            elif t['type'] == 'RandomResize':
                t['scale'] = (4 * s['crop'][0], s['crop'][0])
        # batch 2: BN on a 1×1 pooled map (ASPP, PPM) needs more than one value
        cfg.train_dataloader.update(batch_size=s['batch'], num_workers=s['workers'],
                                    persistent_workers=False)
    cfg.train_cfg.update(max_iters=iters, val_interval=iters + 1)
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.default_hooks.checkpoint = None  # K-Net's would be 3 GB
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=1, log_metric_by_epoch=False)
    cfg.log_processor = dict(by_epoch=False, window_size=1)  # per-iteration scalars
    cfg.randomness = dict(seed=0)
    cfg.work_dir = work_dir
    cfg.launcher = launcher
    # several Runners in one process: each its own logger and visualizer
    cfg.experiment_name = f'gpu_check_{recipe}_{variant}'
    cfg.visualizer.name = cfg.experiment_name
    # the Runner prints and dumps the config four times; formatted by yapf that is
    # seconds per Runner, measured by nothing here
    return Config(cfg.to_dict(), cfg_text=cfg.text, filename=cfg.filename,
                  format_python_code=False)


def worker_b(args) -> None:
    """Under torchrun: per recipe, train the on-the-fly then the precomputed variant
    as tools/train.py does (load, check the data, CPU fallback, Runner)."""
    import gc

    import torch
    from mmwsss.engine import QuietRunner as Runner

    import mmwsss  # noqa: F401
    from mmwsss.config import check_label_overwrite, check_pseudo_label_dirs
    from mmwsss.parallel import setup_cpu_distributed
    from mmwsss.preflight.data import check_data
    data = read_part(args, 'data')
    if data is None:
        raise SystemExit('no generated data (parts/data.json): the prepare step failed')
    rank = int(os.environ.get('RANK', 0))
    iters = args.sizes['iters']
    for recipe in args.recipes:
        res = dict(config=RECIPES[recipe][0])
        for variant in VARIANTS:
            work = osp.join(args.scratch, 'work', 'b', recipe, variant)
            t0 = time.time()
            try:
                cfg = recipe_config(args, recipe, variant, data, iters, work)
                res.update(crop=list(cfg.model.data_preprocessor.size),
                           batch=cfg.train_dataloader.batch_size)
                check_pseudo_label_dirs(cfg)
                check_label_overwrite(cfg)
                problems = check_data(cfg, ('train_dataloader', ))
                if problems:
                    raise RuntimeError('data check: ' + '; '.join(problems))
                setup_cpu_distributed(cfg, 'pytorch')
                runner = Runner.from_cfg(cfg)
                t1 = time.time()
                runner.train()
                stats = train_stats(read_scalars(runner.log_dir), warmup_of(iters))
                stats.update(build_s=round(t1 - t0, 1), train_s=round(time.time() - t1, 1))
                del runner
            except Exception as e:
                traceback.print_exc()
                stats = dict(error=f'{type(e).__name__}: {e}'[-1000:])
            gc.collect()
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            res[variant] = stats
            if rank == 0:
                _write_part(args, f'b.{recipe}', res)
                print(f'[gpu_check] b {recipe} {variant}: ' + ', '.join(
                    f'{k} {_fmt(v)}' for k, v in stats.items()), flush=True)


def worker_c(args) -> None:
    """Forward + backward + SGD step of the ResNet-38 classifier per saliency loss,
    interleaved rounds, CUDA synchronised around each step."""
    import torch
    from mmengine.optim import build_optim_wrapper
    from mmseg.registry import MODELS
    from mmseg.utils import register_all_modules

    import mmwsss  # noqa: F401
    from mmwsss.config import load_config
    from mmwsss.models.losses import EPSSaliencyLoss, IRDSaliencyLoss
    from mmwsss.testing import make_classifier_batch
    register_all_modules(init_default_scope=True)
    s = args.sizes
    size, batch, steps, warmup = s['cls_size'], s['cls_batch'], s['cls_steps'], s['cls_warmup']
    cfg = load_config(osp.join(ROOT, CLS_CONFIG))
    cfg.model.backbone.init_cfg = None  # no ImageNet weights offline; the cost is the same
    if args.dry_run:
        cfg.merge_from_dict(DRY_CLS_MODEL)
    cfg.model.data_preprocessor.size = (size, size)
    cuda = torch.cuda.is_available()
    device = 'cuda' if cuda else 'cpu'
    torch.manual_seed(0)
    model = MODELS.build(cfg.model).to(device).train()
    optim = build_optim_wrapper(model, cfg.optim_wrapper)
    losses = dict(none=None, eps=EPSSaliencyLoss(tau=0.4, lam=0.5), ird=IRDSaliencyLoss(),
                  ird_literal=IRDSaliencyLoss(literal=True))
    data = make_classifier_batch(size, batch, cfg.model.num_classes)

    def step(name):
        model.loss_sal = losses[name]
        if cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        t = time.perf_counter()
        log = model.train_step(data, optim)
        if cuda:
            torch.cuda.synchronize()
        dt = time.perf_counter() - t
        peak = torch.cuda.max_memory_allocated() / 2**30 if cuda else None
        return dt, float(log['loss'].detach()), peak

    for name in LOSSES:
        for _ in range(warmup):
            step(name)
    times = {n: [] for n in LOSSES}
    last, peaks = {}, {n: None for n in LOSSES}
    for _ in range(steps):  # interleaved: drift hits every loss alike
        for name in LOSSES:
            dt, loss, peak = step(name)
            times[name].append(dt)
            last[name] = loss
            if peak is not None:
                peaks[name] = max(peaks[name] or 0, peak)
    base = statistics.median(times['none'])
    variants = {}
    for name in LOSSES:
        t = statistics.median(times[name])
        variants[name] = dict(step_s=round(t, 4), steps_s=[round(x, 4) for x in times[name]],
                              overhead=None if name == 'none' else round((t - base) / t, 4),
                              peak_mem_gib=None if peaks[name] is None else round(peaks[name], 3),
                              loss=last[name])
    out = dict(config=CLS_CONFIG, device=torch.cuda.get_device_name() if cuda else 'cpu',
               size=size, batch=batch, steps=steps, warmup=warmup, variants=variants)
    _write_part(args, 'c', out)
    print('[gpu_check] c: ' + ', '.join(f"{n} {v['step_s']:.3g} s" for n, v in variants.items()),
          flush=True)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    if args.worker:
        args.out = osp.abspath(args.out)
        args.scratch = osp.abspath(args.scratch or args.out)
        os.makedirs(osp.join(args.scratch, 'parts'), exist_ok=True)
        if args.worker != 'prepare':  # which reports a broken stack: no mmwsss import
            from mmwsss.utils.upstream_noise import filter_upstream_warnings
            filter_upstream_warnings()  # the stack's deprecation notices, named there
        dict(prepare=worker_prepare, b=worker_b, c=worker_c)[args.worker](args)
        return 0
    return run_checks(args, argv)


if __name__ == '__main__':
    sys.exit(main())
