"""EPS++ (IRD) against EPS and plain CAM on the embedded dataset, as a study:
held-out tuning, equal budgets, seeds, intervals.

    python demo/method_study.py [--preset study|smoke] [--work-dir work_dirs/method_study]
        [--nproc 2] [--update-doc docs/method_study.md]

Protocol (``docs/method_study.md`` holds the tables this writes):
  1. The synthetic training images are split, seeded, into a tuning part and a
     disjoint report part. Classifiers learn from every training image's
     image-level label and erroneous saliency map; GT masks are only used to
     score pseudo labels (and in the semi-supervised runs).
  2. Tuning (seed ``TUNE_SEED``): each loss gets the same number of settings
     (EPS: τ and λ; IRD: ``max_drop``, ``normalize``, ``refine_scale``), each
     scored on the tuning part only by its best-τ pseudo-label mIoU, averaged
     over the two modes (``no_saliency``; ``saliency`` with the same erroneous
     source). The best setting of each loss is kept.
  3. Report: with the kept settings, every loss (CAM, EPS, IRD) on the same
     seeds. Per seed and mode, τ is chosen on the tuning part and the mIoU read
     on the report part. Paired IRD − EPS per seed, its 95 % t interval, a sign
     test.
  4. IRD's three switches, all 8 combinations (the seed's literal formula is
     all off), on the first ``ablation_seeds``.
  5. The erroneous source at several rates of each error type alone (missing
     class, partial cover, salient non-object): EPS and IRD on one seed each.
  6. Semi-supervised: segmentors on the erroneous source's pseudo labels with 0 %,
     10 % and 100 % GT; the classifier's ``loss_gt_weight`` against none.
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
HEADLINE_FAMILY = "IRD's default − EPS in each label mode (no_saliency, saliency)"
PRESETS = dict(
    study=dict(data=dict(num_train=256, num_val=64, size=64), tune_fraction=0.375,
               cls=dict(iters=150, batch=16, crop=48, cam_scales=(1.0, )),
               seg=dict(iters=600, batch=16, crop=48), seeds=(1, 2, 3, 4, 5),
               ablation_seeds=(1, 2, 3), semi_seeds=(1, 2, 3), rates=(0.25, 0.5, 1.0),
               error_types=('missing_class', 'partial', 'non_object'), ablation='all',
               grid=4),
    # every stage, each as small as it goes: the test's preset (a minute or two)
    smoke=dict(data=dict(num_train=8, num_val=2, size=32), tune_fraction=0.5,
               cls=dict(iters=1, batch=4, crop=32, cam_scales=(1.0, )),
               seg=dict(iters=1, batch=4, crop=32), seeds=(1, 2), ablation_seeds=(1, ),
               semi_seeds=(1, ), rates=(1.0, ), error_types=('non_object', ),
               ablation='ends', grid=1))
# the settings each loss may try, in this order (a preset tries the first `grid`)
EPS_GRID = (dict(tau=0.4, lam=0.5), dict(tau=0.4, lam=0.9), dict(tau=0.3, lam=0.5),
            dict(tau=0.5, lam=0.5))
IRD_GRID = (dict(max_drop=0.3, normalize=True, refine_scale=0.5),
            dict(max_drop=0.3, normalize=True, refine_scale=None),
            dict(max_drop=0.5, normalize=True, refine_scale=0.5),
            dict(max_drop=0.1, normalize=True, refine_scale=0.5))
GT_FRACTION = 0.1
# what the study writes in its work dir: all that --force removes
OUTPUTS = ('runs', 'results', 'lists', 'sources', 'data', 'method_study.md', 'study.json')
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
        return 'cam'
    if method == 'eps':
        return f"eps_t{s['tau']:g}_l{s['lam']:g}"
    if s.get('literal'):
        return 'ird_literal'
    rs = 'none' if s['refine_scale'] is None else f"{s['refine_scale']:g}"
    return f"ird_d{s['max_drop']:g}_n{int(s['normalize'])}_r{rs}"


class Plan:
    """The study's data, parts and jobs under one work dir."""

    def __init__(self, preset: str, work: str):
        from demo.synthetic import dataset_paths, generate_dataset
        from mmwsss.fileio import draw_subset
        self.p, self.work = PRESETS[preset], work
        self.data = osp.join(work, 'data')
        generate_dataset(self.data, **self.p['data'], progress=False)
        self.paths = dataset_paths(self.data)
        with open(self.paths['train_list'], encoding='utf-8') as f:
            ids = [line.strip() for line in f if line.strip()]
        tune = draw_subset(ids, fraction=self.p['tune_fraction'], seed=TUNE_SEED)
        self.parts = dict(tune=tune, report=[i for i in ids if i not in set(tune)])
        # the classifiers' GT images come from the tuning part: the report part stays unseen
        self.gt_list = self._write_list('gt_subset_cls.txt', draw_subset(
            tune, size=max(1, round(GT_FRACTION * len(ids))), seed=TUNE_SEED))
        self.seg_gt_list = self._write_list('gt_subset_seg.txt', draw_subset(
            ids, fraction=GT_FRACTION, seed=TUNE_SEED))
        self.sal = self.paths['sal_dirs'][SAL]

    def _write_list(self, name: str, ids) -> str:
        from mmwsss.fileio import atomic_write
        path = osp.join(self.work, 'lists', name)
        atomic_write(path, lambda f: f.write(''.join(i + '\n' for i in ids).encode()))
        return path

    def cls_job(self, name: str, method: str, setting: dict, seed: int, sal_dir=None,
                parts=('tune', 'report'), gt_weight: float = 0.0,
                evals: Optional[dict] = None) -> dict:
        sal_dir = sal_dir or self.sal
        job = dict(kind='cls', name=f'{name}_s{seed}', method=method, setting=setting,
                   loss=loss_cfg(method, setting), seed=seed, data=self.data,
                   sal_dir=sal_dir, parts={k: self.parts[k] for k in parts},
                   evals=evals or dict(no_saliency=None, saliency=sal_dir),
                   size=self.p['data']['size'],
                   gt_weight=gt_weight, gt_subset=self.gt_list if gt_weight else None,
                   **self.p['cls'])
        return self._paths(job)

    def seg_job(self, labels: str, seed: int, pseudo: dict) -> dict:
        job = dict(kind='seg', name=f'seg_{labels}_s{seed}', labels=labels, seed=seed,
                   data=self.data, size=self.p['data']['size'], gt_subset=self.seg_gt_list,
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


def held_out(result: dict, mode: str, key: str = 'miou_miss'):
    """(report-part mIoU, τ) with τ chosen on the tuning part."""
    s = result['scores'][mode]
    _, tau = best(s['tune'][key])
    return s['report'][key][TAUS.index(tau)], tau


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
def run_study(args) -> dict:
    from demo.synthetic import ERROR_RATES, generate_error_source
    from mmwsss.evaluation.seeds import holm, paired_difference
    t0 = time.time()
    work = osp.abspath(args.work_dir)
    if args.force:
        for path in remove_outputs(work, OUTPUTS):
            print(f'--force: removed {path}', flush=True)
    os.makedirs(work, exist_ok=True)
    plan = Plan(args.preset, work)
    p = plan.p
    n = p['grid']

    # 1. tuning: the same number of settings for each loss, one seed, the tuning part
    grids = dict(eps=EPS_GRID[:n], ird=IRD_GRID[:n])
    tune_jobs = [plan.cls_job('tune_cam', 'cam', {}, TUNE_SEED, parts=('tune', ))]
    tune_jobs += [plan.cls_job('tune_' + setting_name(m, s), m, s, TUNE_SEED, parts=('tune', ))
                  for m in ('eps', 'ird') for s in grids[m]]
    print(f'== 1/3 tuning: {len(tune_jobs)} runs (seed {TUNE_SEED}, tuning part: '
          f"{len(plan.parts['tune'])} images; report part: {len(plan.parts['report'])})",
          flush=True)
    res = run_jobs(tune_jobs, args.nproc, 'tuning', run_line)
    tuning = {m: [(s, tune_score(res[f"tune_{setting_name(m, s)}_s{TUNE_SEED}"]))
                  for s in grids[m]] for m in ('eps', 'ird')}
    chosen = {m: max(tuning[m], key=lambda x: x[1])[0] for m in tuning}
    chosen['cam'] = {}
    print('   kept: ' + ', '.join(setting_name(m, chosen[m]) for m in ('eps', 'ird')))

    # 2. report runs: main seeds, ablation, error rates, the classifier's GT loss
    jobs = {}

    def add(job):
        jobs.setdefault(job['name'], job)
        return job['name']

    main = {m: [add(plan.cls_job(setting_name(m, chosen[m]), m, chosen[m], s))
                for s in p['seeds']] for m in ('cam', 'eps', 'ird')}
    on = dict(chosen['ird'])
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
            s['literal'] = True
        ablation[tuple(bool(k >> i & 1) for i in range(3))] = (s, [
            add(plan.cls_job(setting_name('ird', s), 'ird', s, seed))
            for seed in p['ablation_seeds']])
    rates = {}
    seed0 = p['seeds'][0]
    for kind in p['error_types']:
        for rate in p['rates']:
            key = f'{kind}-{rate:g}'
            src = osp.join(work, 'sources', key)
            generate_error_source(plan.data, src, {t: rate if t == kind else 0.0
                                                   for t in ERROR_RATES})
            rates[(kind, rate)] = {m: add(plan.cls_job(f'{setting_name(m, chosen[m])}_{key}',
                                                       m, chosen[m], seed0, sal_dir=src))
                                   for m in ('eps', 'ird')}
    # the cheaper IRD (PAMR on the map, 10x less per loss step) on every seed: it wins
    # unless the kept setting is ahead beyond the interval on the tuning part
    cheap = dict(chosen['ird'], refine_scale=None)
    cheap_runs = [add(plan.cls_job(setting_name('ird', cheap), 'ird', cheap, s))
                  for s in p['seeds']]
    gtw = [add(plan.cls_job(setting_name('ird', chosen['ird']) + '_gtw', 'ird', chosen['ird'],
                            s, gt_weight=GT_WEIGHT)) for s in p['semi_seeds']]
    print(f'== 2/3 report runs: {len(jobs)} classifiers', flush=True)
    res.update(run_jobs(list(jobs.values()), args.nproc, 'classifiers', run_line))

    def tune_vals(names, mo):
        return [best(res[j]['scores'][mo]['tune']['miou_miss'])[0] for j in names]

    cheap_vs_kept = {mo: paired_difference(tune_vals(main['ird'], mo), tune_vals(cheap_runs, mo))
                     for mo in MODES}
    if chosen['ird'] != cheap and all(d['lo'] <= 0 for d in cheap_vs_kept.values()):
        default = cheap  # a tie (or better): the cheaper setting wins
    else:
        default = chosen['ird']
    print(f"   IRD's default: {setting_name('ird', default)}")

    # 3. segmentors on the erroneous source's pseudo labels (IRD, first seed), 0/10/100 % GT
    src = res[main['ird'][0]]
    _, tau = best(src['scores']['saliency']['tune']['miou_miss'])
    pseudo = dict(cam_dir=src['cam_dir'], sal_dir=plan.sal, tau=tau, mode='saliency')
    seg_jobs = [plan.seg_job(lab, s, pseudo) for lab in ('pseudo', 'semi', 'gt')
                for s in p['semi_seeds']]
    print(f'== 3/3 segmentors: {len(seg_jobs)} runs (pseudo labels of {main["ird"][0]}, '
          f'{SAL}, saliency mode, τ {tau:g} from the tuning part)', flush=True)
    res.update(run_jobs(seg_jobs, args.nproc, 'segmentors', run_line))

    # ---- tables
    out = dict(preset=args.preset, params=p, parts={k: len(v) for k, v in plan.parts.items()},
               chosen={m: chosen[m] for m in ('eps', 'ird')}, env=dict(
                   python=platform.python_version(), torch=_torch_version(),
                   threads_per_run=1, runs_at_a_time=args.nproc))
    T = []
    T.append(f"**Scale** (preset `{args.preset}`): {p['data']['num_train']} training images of "
             f"{p['data']['size']}×{p['data']['size']} ({len(plan.parts['tune'])} tuning, "
             f"{len(plan.parts['report'])} report), {p['data']['num_val']} val; classifiers "
             f"{p['cls']['iters']} iterations × batch {p['cls']['batch']}, crop "
             f"{p['cls']['crop']}, CAM scales {list(p['cls']['cam_scales'])} + flip; "
             f"segmentors {p['seg']['iters']} iterations. Pseudo-label mIoU counts ignored "
             'pixels as misses.')
    T += ['', '### Tuning (tuning part, seed 0): the same number of settings per loss', '',
          '| loss | setting | no_saliency mIoU (τ) | saliency mIoU (τ) | mean | kept |',
          '|---|---|---|---|---|---|']
    cam_r = res[f'tune_cam_s{TUNE_SEED}']
    T.append('| cam | — | ' + ' | '.join('%.1f (%g)' % best(cam_r['scores'][m]['tune'][
        'miou_miss']) for m in MODES) + f' | {tune_score(cam_r):.1f} | τ only |')
    for m in ('eps', 'ird'):
        for s, score in tuning[m]:
            r = res[f"tune_{setting_name(m, s)}_s{TUNE_SEED}"]
            T.append(f"| {m} | {_setting_text(m, s)} | " + ' | '.join(
                '%.1f (%g)' % best(r['scores'][mo]['tune']['miou_miss']) for mo in MODES) +
                f" | {score:.1f} | {'**yes**' if s == chosen[m] else ''} |")
    seeds = p['seeds']
    T += ['', f'### Report part, seeds {list(seeds)}: mean ± std (± s.e.)', '',
          '| loss | setting | mode | mIoU mean ± std (± s.e.) | per seed | τ per seed '
          '(tuning part) |', '|---|---|---|---|---|---|']
    scores = {}
    rows = [('cam', chosen['cam'], main['cam']), ('eps', chosen['eps'], main['eps']),
            ('ird', chosen['ird'], main['ird'])]
    if cheap != chosen['ird']:
        main['ird_cheap'] = cheap_runs
        rows.append(('ird_cheap', cheap, cheap_runs))
    for m, setting, names in rows:
        for mo in MODES:
            vals = [held_out(res[j], mo) for j in names]
            scores[(m, mo)] = [v for v, _ in vals]
            T.append(f"| {m} | {_setting_text('ird' if m == 'ird_cheap' else m, setting)} | {mo} | "
                     f"{fmt_ms(scores[(m, mo)])} | "
                     f"{', '.join('%.1f' % v for v, _ in vals)} | "
                     f"{', '.join('%g' % t for _, t in vals)} |")
    T += ['', '### Paired differences per seed (report part)', '',
          '| comparison | mode | per seed | mean [95 % interval] | wins/losses/ties | '
          'sign test p | verdict |', '|---|---|---|---|---|---|---|']
    diffs = {}
    pairs = [('ird', 'eps'), ('ird', 'cam'), ('eps', 'cam')]
    if 'ird_cheap' in main:
        pairs[1:1] = [('ird_cheap', 'eps'), ('ird', 'ird_cheap')]
    for a, b in pairs:
        for mo in MODES:
            d = paired_difference(scores[(a, mo)], scores[(b, mo)])
            diffs[(a, b, mo)] = d
            T.append(f"| {_label(a)} − {_label(b)} | {mo} | "
                     f"{', '.join('%+.1f' % x for x in d['diffs'])} | {fmt_diff(d)} |"
                     .replace('IRD ahead', f'{_label(a)} ahead')
                     .replace('IRD behind', f'{_label(a)} behind'))
    dkey = 'ird_cheap' if default == cheap and cheap != chosen['ird'] else 'ird'
    T += ['', f"IRD's default, `{setting_name('ird', default)}`: the cheaper setting "
          '(`refine_scale=None`) wins unless the kept one is ahead beyond the 95 % interval on '
          'the tuning part; kept − cheaper there: ' + ', '.join(
              f"{mo} {d['mean']:+.1f} [{d['lo']:+.1f}, {d['hi']:+.1f}]"
              for mo, d in cheap_vs_kept.items()) + '.']
    out['default_ird'] = default
    out['headline'] = {mo: _jsonable(diffs[(dkey, 'eps', mo)]) for mo in MODES}
    family = [(dkey, 'eps', mo) for mo in MODES]
    for (_, _, mo), p_adj in zip(family, holm([diffs[k]['t_p'] for k in family])):
        out['headline'][mo]['holm_p'] = p_adj
    out['headline_family'] = HEADLINE_FAMILY

    T += ['', f"### IRD's switches, {len(ablation)} combinations (report part, seeds "
          f"{list(p['ablation_seeds'])})", '',
          'On = the kept setting\'s value (`max_drop` ' f"{on['max_drop']:g}, `normalize`, "
          f"`refine_scale` {on['refine_scale']:g}); off = the seed's formula (`max_drop` 1, no "
          'normalisation, PAMR on the map). Differences are paired per seed against the '
          'literal formula.', '',
          '| max_drop | normalize | refine_scale | no_saliency mIoU ± s.e. | − literal '
          '[95 %] | saliency mIoU ± s.e. | − literal [95 %] |', '|---|---|---|---|---|---|---|']
    lit = {mo: [held_out(res[j], mo)[0] for j in ablation[(False, False, False)][1]]
           for mo in MODES}
    abl_out = []
    for key in sorted(ablation, key=lambda k: (sum(k), k)):
        s, names = ablation[key]
        cells = []
        for mo in MODES:
            vals = [held_out(res[j], mo)[0] for j in names]
            d = paired_difference(vals, lit[mo])
            cells += [fmt_se(vals), '—' if not any(key) else f"{d['mean']:+.1f} [{d['lo']:+.1f}, "
                      f"{d['hi']:+.1f}]"]
        abl_out.append(dict(setting=s, scores=cells))
        T.append('| ' + ' | '.join('on' if k else 'off' for k in key) + ' | ' +
                 ' | '.join(cells) + ' |')

    noise = {mo: 2 * diffs[('ird', 'eps', mo)]['std'] for mo in MODES}
    T += ['', f'### The erroneous source at other error rates (report part, seed {seed0})', '',
          'Each source has one error type at the given rate (the others off); EPS and IRD '
          'learn from it and the saliency mode uses it. One seed per cell: a difference '
          'inside ± 2 × the std of the per-seed IRD − EPS differences above '
          f"(no_saliency ± {noise['no_saliency']:.1f}, saliency ± {noise['saliency']:.1f}) "
          'is read as a tie.', '',
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
          f'Segmentors (val mIoU) on the pseudo labels of `{main["ird"][0]}` with {SAL} '
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
          '(IRD, kept setting; pseudo labels scored on the report part):', '',
          '| classifier | no_saliency mIoU ± s.e. | saliency mIoU ± s.e. |', '|---|---|---|']
    base = main['ird'][:len(p['semi_seeds'])]
    for name, names in (('IRD', base), (f'IRD + loss_gt_weight {GT_WEIGHT:g}', gtw)):
        T.append(f'| {name} | ' + ' | '.join(
            fmt_se([held_out(res[j], mo)[0] for j in names]) for mo in MODES) + ' |')
    d = {mo: paired_difference([held_out(res[j], mo)[0] for j in gtw],
                               [held_out(res[j], mo)[0] for j in base]) for mo in MODES}
    T.append('| difference [95 %] | ' + ' | '.join(
        '%+.1f [%+.1f, %+.1f]' % (d[mo]['mean'], d[mo]['lo'], d[mo]['hi']) for mo in MODES) +
        ' |')
    h = diffs[(dkey, 'eps', 'no_saliency')], diffs[(dkey, 'eps', 'saliency')]
    T += ['', f"**Headline** (seeds {list(seeds)}, report part): IRD (default "
          f"`{setting_name('ird', default)}`) − EPS (`{setting_name('eps', chosen['eps'])}`) = "
          f"{h[0]['mean']:+.1f} [{h[0]['lo']:+.1f}, {h[0]['hi']:+.1f}] pseudo-label mIoU "
          f"without saliency ({'a tie' if h[0]['tie'] else 'outside the noise'}), "
          f"{h[1]['mean']:+.1f} [{h[1]['lo']:+.1f}, {h[1]['hi']:+.1f}] with the erroneous "
          f"saliency ({'a tie' if h[1]['tie'] else 'outside the noise'}). Paired t test, "
          f'Holm-adjusted over the headline family ({HEADLINE_FAMILY}, {len(family)} '
          'comparisons): ' + ', '.join(f"{mo} p = {out['headline'][mo]['holm_p']:.3f}"
                                       for mo in MODES) + '.',
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


def _label(method: str) -> str:
    return 'IRD (refine_scale=None)' if method == 'ird_cheap' else method.upper()


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
