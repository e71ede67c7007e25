"""The report: OUT/gpu_check.json and OUT/gpu_check.md, rewritten whenever a result is known."""
import json
import os
import os.path as osp
import time

from .plan import PARTS, criteria
from .recipes import VARIANTS
from .runner import now_iso, read_json, write_atomic

SCHEMA = 1


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


def fmt(v, digits=3):
    if v is None:
        return '–'
    if isinstance(v, bool):
        return 'yes' if v else 'no'
    if isinstance(v, float):
        return f'{v:.{digits}g}' if abs(v) < 1e4 else f'{v:.0f}'
    return str(v)


def pct(v):
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
                  f"| {env.get('python')} | {env.get('torch')} | {fmt(env.get('torch_cuda'))} | "
                  f"{env.get('gpu_count', 0)}{' × ' + gpus[0] if gpus else ''} | "
                  f"{env.get('mmcv')} | {fmt(env.get('mmcv_ops_cuda'))} | "
                  f"{env.get('mmengine')} | {env.get('mmseg')} |", '']
    if d.get('install'):
        inst = d['install']
        lines += ['Install (tools/gpu_check.sh): ' + ', '.join(
            f'{k}: {fmt(v)}' for k, v in inst.items()
            if not isinstance(v, (dict, list)))[:600], '']
    lines += ['| part | what | status | pass criterion | wall s | summary |',
              '|---|---|---|---|---|---|']
    for name, p in d['parts'].items():
        lines.append(f"| {name} | {p['title']} | **{p['status']}** | {p.get('criterion')} | "
                     f"{fmt(p.get('wall_s'))} | {p.get('summary', '')} |")
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
        out.append(f"| {t['name']} | {t['outcome']} | {fmt(t.get('time_s'))} | {msg} |")
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
            f"| {name} | {'×'.join(map(str, crop)) if crop else '–'} | {fmt(x.get('batch'))} | "
            f"{fmt(o.get('s_per_iter'))} | {fmt(p.get('s_per_iter'))} | "
            f"{fmt(x.get('ratio_s_per_iter'))} | {fmt(o.get('data_s_per_iter'))} | "
            f"{fmt(p.get('data_s_per_iter'))} | {fmt(x.get('ratio_data_time'))} | "
            f"{fmt(o.get('peak_mem_gib'))} | {fmt(p.get('peak_mem_gib'))} | "
            f"{fmt(x.get('model_zoo_mem_gb')) if x.get('model_zoo_mem_gb') else 'n/a'} |")
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
        out.append(f"| {name} | {fmt(v.get('step_s'))} | {pct(v.get('overhead'))} | "
                   f"{fmt(v.get('peak_mem_gib'))} | {fmt(v.get('loss'))} |")
    return out + ['']


def _md_d(r):
    return [f"AMP {'on' if r.get('amp') else 'off'}, dtype {r.get('dtype')}"
            f"{' (' + r['note'] + ')' if r.get('note') else ''}", '',
            '| iters | s/iter | peak GiB | loss first | loss last | loss finite |',
            '|---|---|---|---|---|---|',
            f"| {fmt(r.get('iters'))} | {fmt(r.get('s_per_iter'))} | "
            f"{fmt(r.get('peak_mem_gib'))} | {fmt(r.get('loss_first'))} | "
            f"{fmt(r.get('loss_last'))} | {fmt(r.get('loss_finite'))} |", '']
