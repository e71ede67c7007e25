"""EPS++ (IRD) against EPS and plain CAM on the embedded dataset, as a study:
held-out tuning, equal budgets, seeds, intervals.

    python demo/method_study.py [--preset study|smoke] [--work-dir work_dirs/method_study]
        [--nproc 2] [--update-doc docs/method_study.md]

Protocol (``docs/method_study.md`` holds the tables this writes):
  1. The synthetic training images of each data draw (the generator's seed) are
     split, seeded, into a tuning part and a disjoint report part. Classifiers
     learn from every training image's image-level label and erroneous saliency
     map; GT masks are only used to score pseudo labels (and in the
     semi-supervised runs).
  2. Tuning (seed ``TUNE_SEED``, nested in each draw): EPS tries ``grid + 1``
     settings of its own knobs (τ, λ, loss weight), IRD ``grid`` settings plus,
     on every seed, its cheaper twin (``refine_scale=None``): the same count.
     Each is scored on the tuning part only by its best-τ pseudo-label mIoU,
     averaged over the two modes; the best setting of each loss is kept.
  3. Report (draw 0): with the kept settings, every method on the same seeds,
     with the controls: IRD without drop (``max_drop=0``), EPS with IRD's drop
     mask, the literal IRD, and WSSS-BED's Eq. 1 CAM (classification loss only,
     ReLU, divided by the max) beside the C+1-softmax CAM. Per seed and mode, τ
     is chosen on the tuning part and the mIoU read on the report part (ignored
     pixels as misses, and left out). Paired differences, 95 % t intervals,
     Holm over the named family (``HEADLINE_FAMILY``).
  4. IRD's three switches, all 8 combinations, on the first ``ablation_seeds``.
  5. Every draw: IRD − EPS per draw, and across draws (per-draw means, t over
     the draws). A long-training arm (``long``) and a 56×56-map arm (``big``:
     ``refine_scale`` 0.5 against PAMR on the map).
  6. The erroneous source at several rates of each error type alone.
  7. Segmentors: on EPS's and on IRD's pseudo labels (the same seed's
     classifier, its held-out τ), paired; and with 0 %, 10 %, 100 % GT.
Every run is one thread, ``randomness=dict(seed, deterministic=True)``; the runs
are resumable (a killed study restarts the runs it had not finished).
"""
import argparse
import json
import os
import os.path as osp
import platform
import re
import sys
import time
from typing import Optional

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)  # the demo package, also when run as a script

from demo.runs import TAUS, remove_outputs, run_jobs  # noqa: E402

TUNE_SEED = 0
SAL = 'SYN_ERRONEOUS'  # the classifiers learn from the erroneous source
MODES = ('no_saliency', 'saliency')
# the comparisons the headline rests on, corrected together (Holm) for multiplicity
HEADLINE_FAMILY = ("IRD's default − EPS, and IRD's default − each control (IRD without "
                   "drop, EPS with IRD's drop, the literal IRD, CAM by Eq. 1), in each label "
                   "mode (no_saliency, saliency)")
PRESETS = dict(
    study=dict(data=dict(num_train=256, num_val=64, size=64), tune_fraction=0.375,
               cls=dict(iters=150, batch=16, crop=48, cam_scales=(1.0, )),
               seg=dict(iters=600, batch=16, crop=48), seeds=(1, 2, 3, 4, 5),
               ablation_seeds=(1, 2, 3), semi_seeds=(1, 2, 3), rates=(0.25, 0.5, 1.0),
               error_types=('missing_class', 'partial', 'non_object'), ablation='all',
               grid=4, draws=(0, 1, 2, 3, 4), draw_seeds=(1, 2, 3, 4, 5),
               long=dict(iters=1000, seeds=(1, 2, 3)), down_seeds=(1, 2, 3, 4, 5),
               down_modes=MODES,
               # 224×224 crops at output stride 4: 56×56 maps, as VOC's at 448 / 8
               big=dict(data=dict(num_train=96, num_val=16, size=224), tune_fraction=0.5,
                        cls=dict(iters=300, batch=8, crop=224, cam_scales=(1.0, )),
                        seeds=(1, 2, 3))),
    # every stage, each as small as it goes: the test's preset (a few minutes)
    smoke=dict(data=dict(num_train=8, num_val=2, size=32), tune_fraction=0.5,
               cls=dict(iters=1, batch=4, crop=32, cam_scales=(1.0, )),
               seg=dict(iters=1, batch=4, crop=32), seeds=(1, 2), ablation_seeds=(1, ),
               semi_seeds=(1, ), rates=(1.0, ), error_types=('non_object', ),
               ablation='ends', grid=1, draws=(0, 1), draw_seeds=(1, 2),
               long=dict(iters=2, seeds=(1, 2)), down_seeds=(1, 2), down_modes=MODES,
               big=dict(data=dict(num_train=4, num_val=1, size=32), tune_fraction=0.5,
                        cls=dict(iters=1, batch=2, crop=32, cam_scales=(1.0, )),
                        seeds=(1, 2))))
# the settings each loss may try, in this order: IRD the first `grid` (its cheaper twin
# is a fifth, on every seed), EPS the first `grid + 1` (its own knobs, a wider range)
EPS_GRID = (dict(tau=0.4, lam=0.5), dict(tau=0.4, lam=0.9), dict(tau=0.2, lam=0.7),
            dict(tau=0.6, lam=0.9), dict(tau=0.4, lam=0.9, loss_weight=3.0))
IRD_GRID = (dict(max_drop=0.3, normalize=True, refine_scale=0.5),
            dict(max_drop=0.3, normalize=True, refine_scale=None),
            dict(max_drop=0.5, normalize=True, refine_scale=0.5),
            dict(max_drop=0.1, normalize=True, refine_scale=0.5))
# the literal IRD: the seed's formula (the ablation's all-off row and a control)
LITERAL = dict(max_drop=1.0, normalize=False, refine_scale=None, literal=True)
CAM_EQ1 = dict(cam_norm='relu_max')
GT_FRACTION = 0.1
# what the study writes in its work dir: all that --force removes
OUTPUTS = ('runs', 'results', 'lists', 'sources', 'data', 'draws', 'method_study.md',
           'study.json')
GT_WEIGHT = 1.0


def parse_args(argv=None):
    from mmwsss.cli import positive_int
    p = argparse.ArgumentParser(
        description='EPS++ (IRD) against EPS: a seeded study with held-out tuning',
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument('--preset', default='study', choices=sorted(PRESETS))
    p.add_argument('--work-dir', default=osp.join(ROOT, 'work_dirs', 'method_study'))
    p.add_argument('--nproc', type=positive_int, default=2, help='runs at a time (one thread each)')
    p.add_argument('--force', action='store_true',
                   help='start again from nothing: remove what the study wrote in the work '
                   f"dir ({', '.join(OUTPUTS)}), nothing else")
    p.add_argument('--update-doc', metavar='MD', help='replace the tables between the '
                   'study markers of this Markdown file (docs/method_study.md)')
    return p.parse_args(argv)


# ------------------------------------------------------------------ the plan
def loss_cfg(method: str, setting: dict):
    if method == 'cam':
        return None
    return dict(type='EPSSaliencyLoss' if method == 'eps' else 'IRDSaliencyLoss', **setting)


def setting_name(method: str, s: dict) -> str:
    if method == 'cam':
        return 'cam_eq1' if s.get('cam_norm') == 'relu_max' else 'cam'
    if method == 'eps':
        name = f"eps_t{s['tau']:g}_l{s['lam']:g}"
        if s.get('loss_weight', 1.0) != 1.0:
            name += f"_w{s['loss_weight']:g}"
        if s.get('drop'):
            d = s['drop']
            rs = 'none' if d.get('refine_scale') is None else f"{d['refine_scale']:g}"
            name += f"_drop{d['max_drop']:g}_n{int(d.get('normalize', True))}_r{rs}"
        return name
    if s.get('literal'):
        return 'ird_literal'
    if s['max_drop'] == 0:  # no drop: normalize and refine_scale play no part
        return 'ird_nodrop'
    rs = 'none' if s['refine_scale'] is None else f"{s['refine_scale']:g}"
    return f"ird_d{s['max_drop']:g}_n{int(s['normalize'])}_r{rs}"


class Plan:
    """The study's data, parts and jobs under one work dir: one data draw (the
    generator's seed ``draw``, its own split), or an arm with its own data
    (``arm='big'``)."""

    def __init__(self, preset: str, work: str, draw: int = 0, arm: Optional[str] = None):
        from demo.synthetic import dataset_paths, generate_dataset
        from mmwsss.fileio import draw_subset
        self.p, self.work, self.draw = PRESETS[preset], work, draw
        q = self.p if arm is None else self.p[arm]
        self.cls, self.size = q['cls'], q['data']['size']
        tag = arm or (f'd{draw}' if draw else '')
        self.prefix = f'{tag}_' if tag else ''
        self.data = osp.join(work, 'draws', tag) if tag else osp.join(work, 'data')
        generate_dataset(self.data, **q['data'], seed=draw, progress=False)
        self.paths = dataset_paths(self.data)
        with open(self.paths['train_list'], encoding='utf-8') as f:
            ids = [line.strip() for line in f if line.strip()]
        tune = draw_subset(ids, fraction=q['tune_fraction'], seed=TUNE_SEED + draw)
        self.parts = dict(tune=tune, report=[i for i in ids if i not in set(tune)])
        # the classifiers' GT images come from the tuning part: the report part stays unseen
        self.gt_list = self._write_list('gt_subset_cls.txt', draw_subset(
            tune, size=max(1, round(GT_FRACTION * len(ids))), seed=TUNE_SEED))
        self.seg_gt_list = self._write_list('gt_subset_seg.txt', draw_subset(
            ids, fraction=GT_FRACTION, seed=TUNE_SEED))
        self.sal = self.paths['sal_dirs'][SAL]

    def _write_list(self, name: str, ids) -> str:
        from mmwsss.fileio import atomic_write
        path = osp.join(self.work, 'lists', self.prefix + name)
        atomic_write(path, lambda f: f.write(''.join(i + '\n' for i in ids).encode()))
        return path

    def cls_job(self, name: str, method: str, setting: dict, seed: int, sal_dir=None,
                parts=('tune', 'report'), gt_weight: float = 0.0,
                evals: Optional[dict] = None, iters: Optional[int] = None) -> dict:
        """A classifier run; ``iters`` (default the preset's) also names it."""
        sal_dir = sal_dir or self.sal
        setting = dict(setting)
        cam_norm = setting.pop('cam_norm', None) if method == 'cam' else None
        if iters is not None:
            name = f'long{iters}_{name}'
        job = dict(kind='cls', name=f'{self.prefix}{name}_s{seed}', method=method,
                   setting=setting, loss=loss_cfg(method, setting), seed=seed, data=self.data,
                   sal_dir=sal_dir, parts={k: self.parts[k] for k in parts},
                   evals=evals or dict(no_saliency=None, saliency=sal_dir), size=self.size,
                   gt_weight=gt_weight, gt_subset=self.gt_list if gt_weight else None,
                   **dict(self.cls, iters=iters or self.cls['iters']))
        if cam_norm:
            job['cam_norm'] = cam_norm
        return self._paths(job)

    def seg_job(self, labels: str, seed: int, pseudo: dict, tag: str = '') -> dict:
        job = dict(kind='seg', name=f'{self.prefix}seg_{tag}{labels}_s{seed}', labels=labels,
                   seed=seed, data=self.data, size=self.size, gt_subset=self.seg_gt_list,
                   **pseudo, **self.p['seg'])
        return self._paths(job)

    def _paths(self, job: dict) -> dict:
        job['work_dir'] = osp.join(self.work, 'runs', job['name'])
        job['result'] = osp.join(self.work, 'results', job['name'] + '.json')
        return job


# ------------------------------------------------------------------ scores
def best(curve):
    """(mIoU, τ) at the τ that :func:`mmwsss.evaluation.select_tau` chooses on a
    ``miou_miss`` curve over ``TAUS`` (the rule tools/eval_pseudo_labels.py uses;
    ignored pixels count as misses, so no cap on their share)."""
    from mmwsss.evaluation import select_tau
    i = select_tau(TAUS, dict(miou_miss=curve), 'miss').index
    return curve[i], TAUS[i]


def held_out(result: dict, mode: str, key: str = 'miou_miss', shift: int = 0):
    """(report-part ``key``, τ) with τ chosen on the tuning part's ``miou_miss``
    (:func:`best`), moved ``shift`` steps of the grid (0.05 each); (None, τ) when
    that leaves the grid. ``key='miou_excl'`` scores the same labels with the
    ignored pixels left out."""
    s = result['scores'][mode]
    _, tau = best(s['tune']['miou_miss'])
    i = TAUS.index(tau) + shift
    if not 0 <= i < len(TAUS):
        return None, None
    return s['report'][key][i], TAUS[i]


def run_line(job: dict, r: dict, evals=MODES) -> str:
    """What a finished run's console line says, its metric named: a segmentor's val
    mIoU; a classifier's pseudo-label mIoU (ignored pixels as misses) per evaluation,
    on the report part at the τ chosen on the tuning part, or, for a run scored on
    the tuning part only, there at its best τ."""
    if job['kind'] == 'seg':
        return f"val mIoU {r['miou']:.1f}"
    if all('report' in r['scores'][e] for e in evals):
        what = "report-part pseudo-label mIoU at the tuning part's τ"
        vals = [held_out(r, e)[0] for e in evals]
    else:
        what = 'tuning-part pseudo-label mIoU at its best τ'
        vals = [best(r['scores'][e]['tune']['miou_miss'])[0] for e in evals]
    return f"{what}: {', '.join(f'{e} {v:.1f}' for e, v in zip(evals, vals))}"


def tune_score(result: dict) -> float:
    return sum(best(result['scores'][m]['tune']['miou_miss'])[0] for m in MODES) / len(MODES)


def fmt_ms(values) -> str:
    from mmwsss.evaluation.seeds import mean_std_se
    s = mean_std_se(values)
    return f"{s['mean']:.1f} ± {s['std']:.1f} (± {s['se']:.1f})"


def fmt_se(values) -> str:
    from mmwsss.evaluation.seeds import mean_std_se
    s = mean_std_se(values)
    return f"{s['mean']:.1f} ± {s['se']:.1f}"


def fmt_diff(d: dict) -> str:
    verdict = 'tie' if d['tie'] else ('IRD ahead' if d['lo'] > 0 else 'IRD behind')
    return (f"{d['mean']:+.1f} [{d['lo']:+.1f}, {d['hi']:+.1f}] | {d['wins']}/{d['losses']}"
            f"/{d['ties']} | {d['sign_p']:.2f} | {verdict}")


# ------------------------------------------------------------------ the study
# the rows of the report part (draw 0): key → what it is
ROWS = dict(cam='CAM: softmax over C+1, no saliency loss', cam_eq1='CAM: WSSS-BED Eq. 1',
            eps='EPS', ird='IRD (kept)', ird_cheap='IRD (refine_scale=None)',
            ird_nodrop='IRD without drop', eps_drop="EPS with IRD's drop",
            ird_literal='literal IRD')
METHOD = dict(cam='cam', cam_eq1='cam', eps='eps', ird='ird', ird_cheap='ird',
              ird_nodrop='ird', eps_drop='eps', ird_literal='ird')
CONTROLS = ('ird_nodrop', 'eps_drop', 'ird_literal', 'cam_eq1')  # against IRD, in the family


def _pick(res: dict, plan: Plan, grids: dict):
    """One draw's tuning scores and the kept setting of each loss."""
    tuning = {m: [(s, tune_score(res[f"{plan.prefix}tune_{setting_name(m, s)}_s{TUNE_SEED}"]))
                  for s in grids[m]] for m in grids}
    return tuning, {m: max(tuning[m], key=lambda x: x[1])[0] for m in tuning}


def _default(res: dict, kept_runs, cheap_runs, kept: dict, cheap: dict):
    """IRD's default: the cheaper twin unless the kept setting is ahead beyond the
    95 % interval on the tuning part; and kept − cheaper there, per mode."""
    from mmwsss.evaluation.seeds import paired_difference

    def tune_vals(names, mo):
        return [best(res[j]['scores'][mo]['tune']['miou_miss'])[0] for j in names]

    cmp = {mo: paired_difference(tune_vals(kept_runs, mo), tune_vals(cheap_runs, mo))
           for mo in MODES}
    if kept != cheap and all(d['lo'] <= 0 for d in cmp.values()):
        return cheap, cmp
    return kept, cmp


def run_study(args) -> dict:
    from demo.synthetic import ERROR_RATES, generate_error_source
    from mmwsss.evaluation.seeds import holm, paired_difference
    t0 = time.time()
    work = osp.abspath(args.work_dir)
    if args.force:
        for path in remove_outputs(work, OUTPUTS):
            print(f'--force: removed {path}', flush=True)
    os.makedirs(work, exist_ok=True)
    p = PRESETS[args.preset]
    plans = {d: Plan(args.preset, work, d) for d in p['draws']}
    plan = plans[0]
    n = p['grid']
    grids = dict(eps=EPS_GRID[:n + 1], ird=IRD_GRID[:n])

    # 1. tuning, nested in each draw: EPS grid + 1 settings, IRD grid (+ its twin later)
    tune_jobs = [plan.cls_job('tune_' + setting_name('cam', c), 'cam', c, TUNE_SEED,
                              parts=('tune', )) for c in ({}, CAM_EQ1)]
    for pl in plans.values():
        tune_jobs += [pl.cls_job('tune_' + setting_name(m, s), m, s, TUNE_SEED,
                                 parts=('tune', )) for m in grids for s in grids[m]]
    print(f'== 1/4 tuning: {len(tune_jobs)} runs (seed {TUNE_SEED}, draws {list(plans)}; '
          f"draw 0: tuning part {len(plan.parts['tune'])} images, report part "
          f"{len(plan.parts['report'])})", flush=True)
    res = run_jobs(tune_jobs, args.nproc, 'tuning', run_line)
    tuning, chosen = {}, {}
    for d, pl in plans.items():
        tuning[d], chosen[d] = _pick(res, pl, grids)
        print(f'   draw {d} kept: ' + ', '.join(setting_name(m, chosen[d][m]) for m in grids))

    jobs = {}

    def add(job):
        jobs.setdefault(job['name'], job)
        return job['name']

    # 2. the kept settings on the report seeds of every draw; the twin sets IRD's default
    cheap = {d: dict(chosen[d]['ird'], refine_scale=None) for d in plans}
    main = {}
    for d, pl in plans.items():
        seeds_d = p['seeds'] if d == 0 else p['draw_seeds']
        for m in ('eps', 'ird'):
            main[(d, m)] = [add(pl.cls_job(setting_name(m, chosen[d][m]), m, chosen[d][m], s))
                            for s in seeds_d]
        main[(d, 'ird_cheap')] = [add(pl.cls_job(setting_name('ird', cheap[d]), 'ird', cheap[d],
                                                 s)) for s in seeds_d]
    print(f'== 2/4 kept settings: {len(jobs)} classifiers', flush=True)
    res.update(run_jobs(list(jobs.values()), args.nproc, 'kept settings', run_line))
    default, cheap_vs_kept, dkey = {}, {}, {}
    for d in plans:
        default[d], cheap_vs_kept[d] = _default(res, main[(d, 'ird')], main[(d, 'ird_cheap')],
                                                chosen[d]['ird'], cheap[d])
        dkey[d] = 'ird_cheap' if default[d] is cheap[d] else 'ird'
    dflt, D = default[0], dkey[0]
    print(f"   IRD's default (draw 0): {setting_name('ird', dflt)}")

    # 3. the controls, IRD's switches, the error rates, the GT loss, the arms
    jobs = {}
    seeds = p['seeds']
    drop = {k: dflt[k] for k in ('max_drop', 'normalize', 'refine_scale')}
    controls = dict(cam={}, cam_eq1=CAM_EQ1, ird_nodrop=dict(dflt, max_drop=0.0),
                    eps_drop=dict(chosen[0]['eps'], drop=drop), ird_literal=LITERAL)
    for k, s in controls.items():
        main[(0, k)] = [add(plan.cls_job(setting_name(METHOD[k], s), METHOD[k], s, seed))
                        for seed in seeds]
    on = dict(chosen[0]['ird'])
    if on['max_drop'] >= 1.0:
        on['max_drop'] = IRD_GRID[0]['max_drop']
    if on['refine_scale'] is None:
        on['refine_scale'] = IRD_GRID[0]['refine_scale']
    on['normalize'] = True
    switches = ('max_drop', 'normalize', 'refine_scale')
    off = dict(max_drop=1.0, normalize=False, refine_scale=None)  # the seed's formula
    ablation = {}
    # all 8 combinations; 'ends': the literal formula and all switches on
    for k in range(8) if p['ablation'] == 'all' else (0, 7):
        s = {sw: on[sw] if k >> i & 1 else off[sw] for i, sw in enumerate(switches)}
        if k == 0:  # the seed's formula: also each image over its own count (IRDRule.literal)
            s = dict(LITERAL)
        ablation[tuple(bool(k >> i & 1) for i in range(3))] = (s, [
            add(plan.cls_job(setting_name('ird', s), 'ird', s, seed))
            for seed in p['ablation_seeds']])
    rates = {}
    seed0 = seeds[0]
    rate_cfg = dict(eps=chosen[0]['eps'], ird=dflt)
    for kind in p['error_types']:
        for rate in p['rates']:
            key = f'{kind}-{rate:g}'
            src = osp.join(work, 'sources', key)
            generate_error_source(plan.data, src, {t: rate if t == kind else 0.0
                                                   for t in ERROR_RATES})
            rates[(kind, rate)] = {m: add(plan.cls_job(f'{setting_name(m, rate_cfg[m])}_{key}',
                                                       m, rate_cfg[m], seed0, sal_dir=src))
                                   for m in ('eps', 'ird')}
    gtw = [add(plan.cls_job(setting_name('ird', dflt) + '_gtw', 'ird', dflt, s,
                            gt_weight=GT_WEIGHT)) for s in p['semi_seeds']]
    long_cfg, long_ = dict(eps=chosen[0]['eps'], ird=dflt), {}
    for m in ('eps', 'ird'):
        long_[m] = [add(plan.cls_job(setting_name(m, long_cfg[m]), m, long_cfg[m], s,
                                     iters=p['long']['iters'])) for s in p['long']['seeds']]
    bplan = Plan(args.preset, work, 0, arm='big')
    big = {}
    for rs in (0.5, None):
        s = dict(dflt, refine_scale=rs)
        big[rs] = [add(bplan.cls_job(setting_name('ird', s), 'ird', s, seed))
                   for seed in p['big']['seeds']]
    print(f'== 3/4 controls, switches, error rates, GT loss, long and 56×56 arms: {len(jobs)} '
          'classifiers', flush=True)
    res.update(run_jobs(list(jobs.values()), args.nproc, 'classifiers', run_line))

    # 4. segmentors: on EPS's and on IRD's pseudo labels (the same seed's classifier, its
    # held-out τ), and on IRD's with 0/10/100 % GT
    seg_jobs, down = [], {}
    for mo in p['down_modes']:
        for m in ('eps', D):
            down[(mo, m)] = []
            for s in p['down_seeds']:
                src = res[main[(0, m)][seeds.index(s)]]
                _, tau = best(src['scores'][mo]['tune']['miou_miss'])
                job = plan.seg_job('pseudo', s, dict(cam_dir=src['cam_dir'], sal_dir=plan.sal,
                                                     tau=tau, mode=mo),
                                   tag=f"{'eps' if m == 'eps' else 'ird'}_{mo}_")
                seg_jobs.append(job)
                down[(mo, m)].append((job['name'], tau))
    src_name = main[(0, D)][0]
    src = res[src_name]
    _, tau = best(src['scores']['saliency']['tune']['miou_miss'])
    pseudo = dict(cam_dir=src['cam_dir'], sal_dir=plan.sal, tau=tau, mode='saliency')
    seg_jobs += [plan.seg_job(lab, s, pseudo) for lab in ('pseudo', 'semi', 'gt')
                 for s in p['semi_seeds']]
    print(f'== 4/4 segmentors: {len(seg_jobs)} runs', flush=True)
    res.update(run_jobs(seg_jobs, args.nproc, 'segmentors', run_line))

    def vals(names, mo, key='miou_miss', shift=0):
        return [held_out(res[j], mo, key, shift)[0] for j in names]

    # ---- tables
    out = dict(preset=args.preset, params=p, parts={k: len(v) for k, v in plan.parts.items()},
               chosen={m: chosen[0][m] for m in ('eps', 'ird')}, env=dict(
                   python=platform.python_version(), torch=_torch_version(),
                   threads_per_run=1, runs_at_a_time=args.nproc))
    T = []
    T.append(f"**Scale** (preset `{args.preset}`): {p['data']['num_train']} training images of "
             f"{p['data']['size']}×{p['data']['size']} ({len(plan.parts['tune'])} tuning, "
             f"{len(plan.parts['report'])} report), {p['data']['num_val']} val, per data draw "
             f"({len(plans)} draws: generator seeds {list(plans)}); classifiers "
             f"{p['cls']['iters']} iterations × batch {p['cls']['batch']}, crop "
             f"{p['cls']['crop']} ({p['cls']['crop'] // 4}×{p['cls']['crop'] // 4} maps), CAM "
             f"scales {list(p['cls']['cam_scales'])} + flip; segmentors {p['seg']['iters']} "
             'iterations. Pseudo-label mIoU counts ignored pixels as misses unless said.')
    T += ['', '### Tuning (draw 0, tuning part, seed 0): EPS and IRD try the same number of '
          'settings (IRD\'s fifth is its cheaper twin, below)', '',
          '| loss | setting | no_saliency mIoU (τ) | saliency mIoU (τ) | mean | kept |',
          '|---|---|---|---|---|---|']
    for c in ({}, CAM_EQ1):
        cam_r = res[f"tune_{setting_name('cam', c)}_s{TUNE_SEED}"]
        T.append(f"| {ROWS[setting_name('cam', c)]} | — | " + ' | '.join(
            '%.1f (%g)' % best(cam_r['scores'][m]['tune']['miou_miss']) for m in MODES) +
            f' | {tune_score(cam_r):.1f} | τ only |')
    for m in ('eps', 'ird'):
        for s, score in tuning[0][m]:
            r = res[f"tune_{setting_name(m, s)}_s{TUNE_SEED}"]
            T.append(f"| {m} | {_setting_text(m, s)} | " + ' | '.join(
                '%.1f (%g)' % best(r['scores'][mo]['tune']['miou_miss']) for mo in MODES) +
                f" | {score:.1f} | {'**yes**' if s == chosen[0][m] else ''} |")
    seeds_txt = list(seeds)
    rows = [k for k in ROWS if (0, k) in main and
            (k != 'ird_cheap' or cheap[0] != chosen[0]['ird'])]
    settings = dict(controls, eps=chosen[0]['eps'], ird=chosen[0]['ird'], ird_cheap=cheap[0])
    T += ['', f'### Report part (draw 0), seeds {seeds_txt}: mean ± std (± s.e.)', '',
          f"IRD's default is `{setting_name('ird', dflt)}`; the controls take its drop rule "
          "(EPS with IRD's drop: EPS's kept setting, and the pixels IRD's default would drop "
          'left out of its MSE) or its setting with `max_drop=0`.', '',
          '| method | setting | mode | mIoU mean ± std (± s.e.) | per seed | τ per seed '
          '(tuning part) |', '|---|---|---|---|---|---|']
    scores = {}
    for k in rows:
        for mo in MODES:
            vt = [held_out(res[j], mo) for j in main[(0, k)]]
            scores[(k, mo)] = [v for v, _ in vt]
            T.append(f"| {ROWS[k]} | {_setting_text(METHOD[k], settings[k])} | {mo} | "
                     f"{fmt_ms(scores[(k, mo)])} | {', '.join('%.1f' % v for v, _ in vt)} | "
                     f"{', '.join('%g' % t for _, t in vt)} |")
    T += ['', '### Pseudo labels scored two ways (draw 0, report part, τ from the tuning part)',
          '', 'The same labels: ignored pixels counted as misses, and left out; the share of '
          'pixels ignored.', '',
          '| method | mode | mIoU, ignored as misses | mIoU, ignored left out | ignored % |',
          '|---|---|---|---|---|']
    for k in rows:
        for mo in MODES:
            T.append(f"| {ROWS[k]} | {mo} | {fmt_se(vals(main[(0, k)], mo))} | "
                     f"{fmt_se(vals(main[(0, k)], mo, 'miou_excl'))} | "
                     f"{fmt_se(vals(main[(0, k)], mo, 'ignored_share'))} |")
    T += ['', '### τ ± 0.05 around the held-out τ (draw 0, report part, mean ± s.e.)', '',
          '| method | mode | τ − 0.05 | held-out τ | τ + 0.05 |', '|---|---|---|---|---|']
    for k in ('eps', D):
        for mo in MODES:
            cells = []
            for sh in (-1, 0, 1):
                v = vals(main[(0, k)], mo, shift=sh)
                cells.append('— (off the grid)' if None in v else fmt_se(v))
            T.append(f"| {ROWS[k]} | {mo} | " + ' | '.join(cells) + ' |')
    T += ['', '### Paired differences per seed (draw 0, report part)', '',
          '| comparison | mode | per seed | mean [95 % interval] | wins/losses/ties | '
          'sign test p | verdict |', '|---|---|---|---|---|---|---|']
    diffs = {}
    pairs = [(D, 'eps')] + [(D, c) for c in CONTROLS]
    if 'ird_cheap' in rows:
        pairs += [('ird', 'ird_cheap'), ('ird' if D == 'ird_cheap' else 'ird_cheap', 'eps')]
    pairs += [('eps_drop', 'eps'), ('ird_nodrop', 'eps'), ('cam_eq1', 'cam'), ('eps', 'cam_eq1')]
    for a, b in pairs:
        for mo in MODES:
            d = paired_difference(scores[(a, mo)], scores[(b, mo)])
            diffs[(a, b, mo)] = d
            T.append(f"| {ROWS[a]} − {ROWS[b]} | {mo} | "
                     f"{', '.join('%+.1f' % x for x in d['diffs'])} | {fmt_diff(d)} |"
                     .replace('IRD ahead', f'{ROWS[a]} ahead')
                     .replace('IRD behind', f'{ROWS[a]} behind'))
    T += ['', f"IRD's default, `{setting_name('ird', dflt)}`: the cheaper setting "
          '(`refine_scale=None`) wins unless the kept one is ahead beyond the 95 % interval on '
          'the tuning part; kept − cheaper there: ' + ', '.join(
              f"{mo} {d['mean']:+.1f} [{d['lo']:+.1f}, {d['hi']:+.1f}]"
              for mo, d in cheap_vs_kept[0].items()) + '.']
    family = [(D, b, mo) for b in ('eps', ) + CONTROLS for mo in MODES]
    adjusted = holm([diffs[k]['t_p'] for k in family])
    T += ['', f'### The family, Holm-adjusted ({len(family)} comparisons)', '',
          f'Family: {HEADLINE_FAMILY}. Paired t test per comparison (draw 0, seeds '
          f'{seeds_txt}), Holm over the family.', '',
          '| comparison | mode | mean [95 %] | t test p | Holm p |', '|---|---|---|---|---|']
    out['family'] = []
    for (a, b, mo), p_adj in zip(family, adjusted):
        d = diffs[(a, b, mo)]
        T.append(f"| {ROWS[a]} − {ROWS[b]} | {mo} | {d['mean']:+.1f} [{d['lo']:+.1f}, "
                 f"{d['hi']:+.1f}] | {d['t_p']:.3f} | {p_adj:.3f} |")
        out['family'].append(dict(a=a, b=b, mode=mo, holm_p=p_adj, **_jsonable(d)))
    out['default_ird'] = dflt
    out['headline'] = {mo: dict(_jsonable(diffs[(D, 'eps', mo)]),
                                holm_p=adjusted[family.index((D, 'eps', mo))]) for mo in MODES}
    out['headline_family'] = HEADLINE_FAMILY

    # every draw, and across draws
    T += ['', f"### Data draws: IRD's default − EPS, each draw tuned on its own tuning part "
          f"(seeds {list(p['draw_seeds'])})", '',
          '| draw (generator seed) | EPS kept | IRD default | no_saliency IRD − EPS [95 %] | '
          'saliency IRD − EPS [95 %] |', '|---|---|---|---|---|']
    per_draw = {mo: [] for mo in MODES}
    for d in plans:
        idx = [(p['seeds'] if d == 0 else p['draw_seeds']).index(s) for s in p['draw_seeds']]
        cells = []
        for mo in MODES:
            dd = paired_difference([vals(main[(d, dkey[d])], mo)[i] for i in idx],
                                   [vals(main[(d, 'eps')], mo)[i] for i in idx])
            per_draw[mo].append(dd['mean'])
            cells.append(f"{dd['mean']:+.1f} [{dd['lo']:+.1f}, {dd['hi']:+.1f}]")
        T.append(f"| {d} | `{setting_name('eps', chosen[d]['eps'])}` | "
                 f"`{setting_name('ird', default[d])}` | " + ' | '.join(cells) + ' |')
    across = {mo: paired_difference(per_draw[mo], [0.0] * len(per_draw[mo])) for mo in MODES}
    T.append(f'| **across draws** (mean of the per-draw means, t over {len(plans)} draws) | | | '
             + ' | '.join(f"**{a['mean']:+.1f} [{a['lo']:+.1f}, {a['hi']:+.1f}]**"
                          for a in across.values()) + ' |')
    out['across_draws'] = {mo: _jsonable(a) for mo, a in across.items()}

    # long training
    li = p['long']['iters']
    T += ['', f"### Long training: {li} iterations (draw 0, seeds {list(p['long']['seeds'])})",
          '', f"EPS `{setting_name('eps', long_cfg['eps'])}` and IRD's default "
          f"`{setting_name('ird', dflt)}`, trained {li} iterations instead of "
          f"{p['cls']['iters']}; the same seeds at {p['cls']['iters']} for comparison.", '',
          '| mode | EPS mIoU ± s.e. | IRD mIoU ± s.e. | IRD − EPS [95 %] | IRD − EPS at '
          f"{p['cls']['iters']} iterations [95 %] |", '|---|---|---|---|---|']
    idx = [seeds.index(s) for s in p['long']['seeds']]
    out['long'] = {}
    for mo in MODES:
        e, i = vals(long_['eps'], mo), vals(long_['ird'], mo)
        d = paired_difference(i, e)
        short = paired_difference([scores[(D, mo)][j] for j in idx],
                                  [scores[('eps', mo)][j] for j in idx])
        out['long'][mo] = _jsonable(d)
        T.append(f"| {mo} | {fmt_se(e)} | {fmt_se(i)} | {d['mean']:+.1f} [{d['lo']:+.1f}, "
                 f"{d['hi']:+.1f}] | {short['mean']:+.1f} [{short['lo']:+.1f}, "
                 f"{short['hi']:+.1f}] |")

    # refine_scale on large maps
    b = p['big']
    side = b['cls']['crop'] // 4
    T += ['', f"### `refine_scale` on {side}×{side} maps (seeds {list(b['seeds'])})", '',
          f"{b['data']['num_train']} training images of {b['data']['size']}×{b['data']['size']} "
          f"(draw 0's generator at that size; {len(bplan.parts['tune'])} tuning, "
          f"{len(bplan.parts['report'])} report), crops {b['cls']['crop']}, "
          f"{b['cls']['iters']} iterations × batch {b['cls']['batch']}: maps of {side}×{side}, "
          "as VOC's at 448 / stride 8. IRD's default with PAMR at half the image's resolution "
          'against PAMR on the map.', '',
          '| mode | refine_scale 0.5 | refine_scale None | 0.5 − None [95 %] |',
          '|---|---|---|---|']
    out['big'] = {}
    for mo in MODES:
        a_, b_ = vals(big[0.5], mo), vals(big[None], mo)
        d = paired_difference(a_, b_)
        out['big'][mo] = _jsonable(d)
        T.append(f"| {mo} | {fmt_se(a_)} | {fmt_se(b_)} | {d['mean']:+.1f} [{d['lo']:+.1f}, "
                 f"{d['hi']:+.1f}] |")

    # downstream
    T += ['', f"### Segmentors on EPS's and on IRD's pseudo labels (seeds "
          f"{list(p['down_seeds'])})", '',
          "Segmentor seed s trains on the pseudo labels of the classifier of seed s (draw 0), "
          'each at its own τ chosen on the tuning part; val mIoU.', '',
          '| mode | EPS val mIoU ± std (± s.e.) | IRD val mIoU ± std (± s.e.) | IRD − EPS '
          '[95 %] | τ EPS / IRD per seed |', '|---|---|---|---|---|']
    out['downstream'] = {}
    for mo in p['down_modes']:
        e = [res[j]['miou'] for j, _ in down[(mo, 'eps')]]
        i = [res[j]['miou'] for j, _ in down[(mo, D)]]
        d = paired_difference(i, e)
        out['downstream'][mo] = _jsonable(d)
        taus = ', '.join(f'{a:g}/{b:g}' for (_, a), (_, b) in zip(down[(mo, 'eps')],
                                                                  down[(mo, D)]))
        T.append(f"| {mo} | {fmt_ms(e)} | {fmt_ms(i)} | {d['mean']:+.1f} [{d['lo']:+.1f}, "
                 f"{d['hi']:+.1f}] | {taus} |")

    T += ['', f"### IRD's switches, {len(ablation)} combinations (report part, seeds "
          f"{list(p['ablation_seeds'])})", '',
          'On = the kept setting\'s value (`max_drop` ' f"{on['max_drop']:g}, `normalize`, "
          f"`refine_scale` {on['refine_scale']:g}); off = the seed's formula (`max_drop` 1, no "
          'normalisation, PAMR on the map, each image over its own count). Differences are '
          'paired per seed against the literal formula.', '',
          '| max_drop | normalize | refine_scale | no_saliency mIoU ± s.e. | − literal '
          '[95 %] | saliency mIoU ± s.e. | − literal [95 %] |', '|---|---|---|---|---|---|---|']
    lit = {mo: vals(ablation[(False, False, False)][1], mo) for mo in MODES}
    for key in sorted(ablation, key=lambda k: (sum(k), k)):
        s, names = ablation[key]
        cells = []
        for mo in MODES:
            v = vals(names, mo)
            d = paired_difference(v, lit[mo])
            cells += [fmt_se(v), '—' if not any(key) else f"{d['mean']:+.1f} [{d['lo']:+.1f}, "
                      f"{d['hi']:+.1f}]"]
        T.append('| ' + ' | '.join('on' if k else 'off' for k in key) + ' | ' +
                 ' | '.join(cells) + ' |')

    noise = {mo: 2 * diffs[(D, 'eps', mo)]['std'] for mo in MODES}
    T += ['', f'### The erroneous source at other error rates (report part, seed {seed0})', '',
          'Each source has one error type at the given rate (the others off); EPS (kept) and '
          "IRD's default learn from it and the saliency mode uses it. One seed per cell, so "
          'no test: as a heuristic, a difference inside ± 2 × the std of the per-seed '
          f"IRD − EPS differences above (no_saliency ± {noise['no_saliency']:.1f}, saliency ± "
          f"{noise['saliency']:.1f}) is read as a tie.", '',
          '| error type | rate | saliency IoU | EPS / IRD no_saliency | IRD − EPS | '
          'EPS / IRD saliency | IRD − EPS |', '|---|---|---|---|---|---|---|']
    for (kind, rate), names in rates.items():
        meta = json.load(open(osp.join(work, 'sources', f'{kind}-{rate:g}', 'source_meta.json')))
        cells = []
        for mo in MODES:
            e, i = (held_out(res[names[m]], mo)[0] for m in ('eps', 'ird'))
            tie = abs(i - e) <= noise[mo]
            cells += [f'{e:.1f} / {i:.1f}', f"{i - e:+.1f}{' (tie)' if tie else ''}"]
        T.append(f"| {kind} | {rate:g} | {100 * meta['quality']['dataset_iou']:.1f} | " +
                 ' | '.join(cells) + ' |')

    T += ['', f"### Semi-supervised (seeds {list(p['semi_seeds'])})", '',
          f'Segmentors (val mIoU) on the pseudo labels of `{src_name}` with {SAL} '
          f'in saliency mode (τ {tau:g}, chosen on the tuning part), with GT on 0 %, '
          f'{100 * GT_FRACTION:g} % (`gt_subset`, seeded) and 100 % of the training images:',
          '', '| labels | val mIoU mean ± std (± s.e.) | per seed | − pseudo only [95 %] |',
          '|---|---|---|---|']
    seg = {lab: [res[f'seg_{lab}_s{s}']['miou'] for s in p['semi_seeds']]
           for lab in ('pseudo', 'semi', 'gt')}
    for lab, text in (('pseudo', '0 % GT (pseudo labels only)'),
                      ('semi', f'{100 * GT_FRACTION:g} % GT + pseudo labels'),
                      ('gt', '100 % GT')):
        d = paired_difference(seg[lab], seg['pseudo'])
        T.append(f"| {text} | {fmt_ms(seg[lab])} | {', '.join('%.1f' % v for v in seg[lab])} "
                 '| ' + ('—' if lab == 'pseudo' else
                         '%+.1f [%+.1f, %+.1f]' % (d['mean'], d['lo'], d['hi'])) + ' |')
    T += ['', f"The classifier's `loss_gt_weight={GT_WEIGHT:g}` on "
          f"{sum(1 for _ in open(plan.gt_list))} GT masks of the tuning part, against none "
          "(IRD's default; pseudo labels scored on the report part):", '',
          '| classifier | no_saliency mIoU ± s.e. | saliency mIoU ± s.e. |', '|---|---|---|']
    base = main[(0, D)][:len(p['semi_seeds'])]
    for name, names in (('IRD', base), (f'IRD + loss_gt_weight {GT_WEIGHT:g}', gtw)):
        T.append(f'| {name} | ' + ' | '.join(fmt_se(vals(names, mo)) for mo in MODES) + ' |')
    d = {mo: paired_difference(vals(gtw, mo), vals(base, mo)) for mo in MODES}
    T.append('| difference [95 %] | ' + ' | '.join(
        '%+.1f [%+.1f, %+.1f]' % (d[mo]['mean'], d[mo]['lo'], d[mo]['hi']) for mo in MODES) +
        ' |')
    h = out['headline']

    def verdict(mo):  # the interval first, then the correction over the family
        if h[mo]['tie']:
            return 'a tie'
        return ('outside the noise' if h[mo]['holm_p'] < 0.05 else
                'its interval excludes 0, but not significant after Holm')

    def across_verdict(a):
        return 'a tie' if a['lo'] <= 0 <= a['hi'] else 'outside the noise'

    T += ['', f"**Headline** (seeds {seeds_txt}, report part, draw 0): IRD (default "
          f"`{setting_name('ird', dflt)}`) − EPS (`{setting_name('eps', chosen[0]['eps'])}`) = "
          f"{h['no_saliency']['mean']:+.1f} [{h['no_saliency']['lo']:+.1f}, "
          f"{h['no_saliency']['hi']:+.1f}] pseudo-label mIoU without saliency "
          f"({verdict('no_saliency')}), "
          f"{h['saliency']['mean']:+.1f} [{h['saliency']['lo']:+.1f}, "
          f"{h['saliency']['hi']:+.1f}] with the erroneous saliency "
          f"({verdict('saliency')}); Holm-adjusted p over "
          f'the family of {len(family)}: ' + ', '.join(
              f"{mo} {h[mo]['holm_p']:.3f}" for mo in MODES) + f'. Across {len(plans)} data '
          'draws: ' + ', '.join(f"{mo} {a['mean']:+.1f} [{a['lo']:+.1f}, {a['hi']:+.1f}] "
                                f"({across_verdict(a)})" for mo, a in across.items()) + '.',
          '', f'Runs: {len(res)}, {sum(r["seconds"] for r in res.values()) / 60:.0f} '
          f'run-minutes; this invocation {(time.time() - t0) / 60:.0f} min wall, '
          f'{args.nproc} at a time.']
    tables = '\n'.join(T)
    out['tables'] = tables
    from mmwsss.fileio import atomic_write
    atomic_write(osp.join(work, 'method_study.md'), lambda f: f.write((tables + '\n').encode()))
    text = json.dumps(out, indent=1, default=str)
    atomic_write(osp.join(work, 'study.json'), lambda f: f.write(text.encode()))
    return out


def _setting_text(method: str, s: dict) -> str:
    if method == 'cam':
        return '—'
    return ', '.join(f'{k} {v}' for k, v in s.items())


def _jsonable(d: dict) -> dict:
    return {k: (float(v) if isinstance(v, float) else v) for k, v in d.items()}


def _torch_version() -> str:
    import torch
    return torch.__version__


START, END = '<!-- study tables: begin -->', '<!-- study tables: end -->'


def update_doc(path: str, tables: str, command: str) -> None:
    """Replace what lies between the study markers of ``path`` with ``tables``."""
    with open(path, encoding='utf-8') as f:
        text = f.read()
    if START not in text or END not in text:
        raise ValueError(f'{path}: no {START} ... {END} markers to replace')
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    new = f'{head}{START}\n<!-- written by: {command} -->\n{tables}\n{END}{tail}'
    from mmwsss.fileio import atomic_write
    atomic_write(path, lambda f: f.write(new.encode()))


def read_headline(path: str) -> str:
    """The study's headline line from ``docs/method_study.md`` (for the demo)."""
    with open(path, encoding='utf-8') as f:
        for line in f:
            if line.startswith('**Headline**'):
                return re.sub(r'\*\*', '', line.strip())
    raise ValueError(f'{path} has no **Headline** line: run demo/method_study.py '
                     '--update-doc first')


def main(argv=None):
    from mmwsss.utils.upstream_noise import filter_upstream_warnings
    filter_upstream_warnings()  # the stack's deprecation notices, named there
    args = parse_args(argv)
    out = run_study(args)
    print('\n' + out['tables'])
    if args.update_doc:
        update_doc(args.update_doc, out['tables'],
                   'python demo/method_study.py --preset ' + args.preset)
        print(f'\n{args.update_doc}: tables replaced')
    return out


if __name__ == '__main__':
    main()
