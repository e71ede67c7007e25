"""The method study (``demo/method_study.py``): its statistics, and its smallest
preset end to end (tuning, report seeds, the controls, the IRD switches, data
draws, the long and 56×56 arms, an error rate, segmentors on EPS's and IRD's
labels and with 0/10/100 % GT, the classifier's GT loss), resumed, and one run
repeated bit for bit."""
import json
import os
import os.path as osp
import re
import shutil

import numpy as np
import pytest

from mmwsss.evaluation.seeds import paired_difference, sign_test, t_quantile_975


def test_sign_test_and_t_quantile_match_their_tables():
    assert sign_test(5, 0) == pytest.approx(0.0625)  # 2 / 2**5
    assert sign_test(4, 1) == pytest.approx(0.375)  # 2 * 6 / 32
    assert sign_test(0, 0) == 1.0
    assert t_quantile_975(4) == pytest.approx(2.776)
    assert t_quantile_975(200) == pytest.approx(1.96)
    with pytest.raises(ValueError, match='degree'):
        t_quantile_975(0)


def test_paired_difference_interval_and_tie():
    a, b = [61.0, 62.0, 60.5, 61.5, 62.5], [60.0, 60.5, 60.0, 60.0, 61.0]
    d = paired_difference(a, b)
    diffs = np.subtract(a, b)
    se = diffs.std(ddof=1) / np.sqrt(5)
    assert d['mean'] == pytest.approx(diffs.mean())
    assert d['se'] == pytest.approx(se)
    assert (d['lo'], d['hi']) == pytest.approx((diffs.mean() - 2.776 * se,
                                                diffs.mean() + 2.776 * se))
    assert (d['wins'], d['losses'], d['ties']) == (5, 0, 0) and not d['tie']
    # the same mean gap with one seed going the other way: inside the noise
    d = paired_difference([61.0, 62.0, 58.0, 61.5, 62.5], b)
    assert d['tie'] and d['lo'] < 0 < d['hi'] and d['losses'] == 1
    with pytest.raises(ValueError, match='same seeds'):
        paired_difference([1.0, 2.0], [1.0])


@pytest.fixture(scope='module')
def smoke_study(tmp_path_factory):
    from demo.method_study import main
    work = str(tmp_path_factory.mktemp('study'))
    return work, main(['--preset', 'smoke', '--work-dir', work, '--nproc', '1'])


def test_study_smoke_preset_end_to_end(smoke_study):
    from demo.method_study import PRESETS, Plan, read_headline, update_doc
    work, out = smoke_study
    tables = out['tables']
    for section in ('### Tuning', '### Report part', '### Pseudo labels scored two ways',
                    '### τ ± 0.05', '### Paired differences', '### The family, Holm',
                    '### Data draws', '### Long training', '### `refine_scale` on',
                    "### Segmentors on EPS's and on IRD's", "### IRD's switches",
                    '### The erroneous source', '### Semi-supervised', 'loss_gt_weight',
                    '**Headline**'):
        assert section in tables, section
    # held-out protocol: the parts are disjoint and cover the training list
    plan = Plan('smoke', work)
    tune, report = set(plan.parts['tune']), set(plan.parts['report'])
    assert tune and report and not tune & report
    assert len(tune | report) == PRESETS['smoke']['data']['num_train']
    # the tuning runs were scored on the tuning part only, report runs on both
    res_dir = osp.join(work, 'results')
    tuning = [json.load(open(osp.join(res_dir, f))) for f in os.listdir(res_dir)
              if f.startswith('tune_')]
    assert tuning and all(set(r['scores']['saliency']) == {'tune'} for r in tuning)
    # the classifiers' GT masks come from the tuning part only
    gt_ids = set(open(plan.gt_list).read().split())
    assert gt_ids and gt_ids <= tune
    # equal budgets: EPS tries one setting more than IRD, whose fifth is its cheaper twin
    n = PRESETS['smoke']['grid']
    kinds = [r['job']['method'] for r in tuning]
    assert kinds.count('cam') == 2 and kinds.count('ird') == n and kinds.count('eps') == n + 1
    assert len(tuning) == 2 + 2 * n + 1
    h = out['headline']['no_saliency']
    assert h['n'] == len(PRESETS['smoke']['seeds']) and h['lo'] <= h['mean'] <= h['hi']
    # the doc's tables are replaced between the markers, and the demo reads the headline
    doc = osp.join(work, 'doc.md')
    with open(doc, 'w') as f:
        f.write('# Study\n\n<!-- study tables: begin -->\nold\n<!-- study tables: end -->\n'
                'text after\n')
    update_doc(doc, tables, 'python demo/method_study.py --preset smoke')
    text = open(doc).read()
    assert 'old' not in text and tables in text and text.endswith('text after\n')
    assert read_headline(doc).startswith('Headline (seeds [1, 2], report part, draw 0): IRD '
                                         '(default')


def test_study_resumes_and_a_run_repeats_bit_for_bit(smoke_study, capfd):
    from demo.method_study import main
    work, out = smoke_study
    name = 'eps_t0.4_l0.5_s1'
    cams = osp.join(work, 'runs', name, 'cams')
    before = {f: dict(np.load(osp.join(cams, f))) for f in os.listdir(cams)
              if f.endswith('.npz')}
    result = json.load(open(osp.join(work, 'results', name + '.json')))
    os.unlink(osp.join(work, 'results', name + '.json'))
    shutil.rmtree(osp.join(work, 'runs', name, 'cams'))  # rerun from nothing but the dir
    capfd.readouterr()
    again = main(['--preset', 'smoke', '--work-dir', work, '--nproc', '1'])
    printed = capfd.readouterr().out
    assert 'finished before (kept)' in printed
    ran = re.findall(r'^  (\S+): \d+ s', printed, flags=re.M)
    assert ran == [name]  # only the removed run ran again
    after = {f: dict(np.load(osp.join(cams, f))) for f in os.listdir(cams)
             if f.endswith('.npz')}
    assert before and after.keys() == before.keys()
    for f in before:  # deterministic training and CAMs (one thread, deterministic=True)
        assert before[f].keys() == after[f].keys()
        for k in before[f]:
            np.testing.assert_array_equal(after[f][k], before[f][k], err_msg=f'{f}:{k}')
    np.testing.assert_array_equal(
        json.load(open(osp.join(work, 'results', name + '.json')))['scores']['saliency'][
            'report']['miou_miss'], result['scores']['saliency']['report']['miou_miss'])
    assert again['tables'].split('Runs:')[0] == out['tables'].split('Runs:')[0]


def _seg_job(tmp_path):
    return dict(kind='seg', name='seg_gt_s1', labels='gt', seed=1,
                work_dir=str(tmp_path / 'runs' / 'seg_gt_s1'),
                result=str(tmp_path / 'results' / 'seg_gt_s1.json'))


@pytest.mark.parametrize('planted, problem', [
    (dict(miou=99.9, seconds=1.0), 'no job recorded'),
    (dict(seconds=1.0), "no 'miou'"),
    (dict(miou='99.9', seconds=1.0), "no 'miou'"),
    (dict(miou=float('nan'), seconds=1.0), "no 'miou'"),
    (dict(miou=50.0), "no 'name' or 'seconds'"),
    ([], 'not a JSON object')])
def test_a_result_is_reused_only_with_its_job_and_every_field(planted, problem, tmp_path):
    """Fails before the fix: a result without a job was reused (a planted 99.9 mIoU
    went into the tables), one without 'miou' gave a KeyError in the tables."""
    from demo.runs import code_hash, read_result
    job = _seg_job(tmp_path)
    if isinstance(planted, dict) and problem != 'no job recorded':
        planted = dict(planted, name=job['name'], job=job, code=code_hash())
    os.makedirs(osp.dirname(job['result']))
    with open(job['result'], 'w') as f:
        json.dump(planted, f)
    assert read_result(job) is None
    why = []
    assert read_result(job, why) is None
    assert len(why) == 1 and problem in why[0] and job['result'] in why[0]
    with open(job['result'], 'w') as f:  # the run's own result is kept
        json.dump(dict(miou=50.0, seconds=1.0, name=job['name'], job=job, code=code_hash()), f)
    assert read_result(job)['miou'] == 50.0


def test_a_cls_result_needs_every_score_the_tables_read(tmp_path):
    """Fails before the fix: a result of the right job with a score list cut short
    was used (the tables read the best τ of a shorter grid), and one whose CAM store
    was gone (the segmentor runs read it)."""
    from demo.runs import SCORE_KEYS, TAUS, code_hash, read_result
    job = dict(kind='cls', name='cam_s1', parts=dict(tune=['a']), evals=dict(saliency='s'),
               result=str(tmp_path / 'cam_s1.json'), work_dir=str(tmp_path / 'cam_s1'))
    full = {k: [50.0] * len(TAUS) for k in SCORE_KEYS}
    cams = osp.join(job['work_dir'], 'cams')
    r = dict(name='cam_s1', seconds=2.0, job=job, cam_dir=cams, code=code_hash(),
             scores=dict(saliency=dict(tune=full)))
    with open(job['result'], 'w') as f:
        json.dump(r, f)
    assert read_result(job) is None  # the seg runs read the store
    why = []
    assert read_result(job, why) is None and 'is gone' in why[0]
    os.makedirs(cams)
    assert read_result(job) is not None
    r['scores']['saliency']['tune'] = dict(full, miou_miss=[99.9])
    with open(job['result'], 'w') as f:
        json.dump(r, f)
    assert read_result(job) is None
    why = []
    assert read_result(job, why) is None and 'miou_miss' in why[0]


def test_a_result_made_by_other_code_runs_again(tmp_path):
    """Fails before the fix (issue 29): the cache was keyed by the job only, so a
    change of the package's code reused results that the old code had made."""
    from demo.runs import code_hash, read_result
    job = _seg_job(tmp_path)
    os.makedirs(osp.dirname(job['result']))
    r = dict(miou=50.0, seconds=1.0, name=job['name'], job=job, code=code_hash())
    with open(job['result'], 'w') as f:
        json.dump(r, f)
    assert read_result(job)['miou'] == 50.0
    with open(job['result'], 'w') as f:  # the same job, made before a change of code
        json.dump(dict(r, code='0' * 64), f)
    why = []
    assert read_result(job, why) is None and 'made by other code' in why[0]


def test_the_code_hash_follows_the_package_sources_only(tmp_path):
    from demo.runs import code_hash
    for rel in ('mmwsss/a.py', 'mmwsss/sub/b.py', 'demo/runs.py', 'demo/method_study.py'):
        os.makedirs(osp.dirname(tmp_path / rel), exist_ok=True)
        (tmp_path / rel).write_text('x = 1\n')
    h = code_hash(str(tmp_path))
    (tmp_path / 'mmwsss' / 'README.md').write_text('docs')  # not source
    (tmp_path / 'demo' / 'method_study.py').write_text('tables = 2\n')  # tables only
    assert code_hash(str(tmp_path)) == h
    (tmp_path / 'mmwsss' / 'sub' / 'b.py').write_text('x = 2\n')
    h2 = code_hash(str(tmp_path))
    assert h2 != h
    (tmp_path / 'mmwsss' / 'sub' / 'b.py').rename(tmp_path / 'mmwsss' / 'sub' / 'c.py')
    h3 = code_hash(str(tmp_path))
    assert h3 not in (h, h2)  # a moved file counts too
    (tmp_path / 'demo' / 'runs.py').write_text('x = 3\n')  # the runs' own code
    assert code_hash(str(tmp_path)) not in (h, h2, h3)


def test_holm_on_a_known_example_and_the_t_test_p():
    from mmwsss.evaluation.seeds import holm, t_test_p
    # sorted 0.005, 0.01, 0.03, 0.04 -> ×4, ×3, ×2, ×1 = 0.02, 0.03, 0.06, 0.04 -> 0.06
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])
    assert holm([]) == []
    # t at the tabulated 97.5 % quantile gives p = 0.05 (df 4: t = 2.776)
    diffs = [1.0, 2.0, 3.0, 4.0, 5.0]
    mean, se = 3.0, np.std(diffs, ddof=1) / np.sqrt(5)
    shifted = [d - mean + 2.776 * se for d in diffs]
    assert t_test_p(shifted) == pytest.approx(0.05, abs=1e-4)
    assert t_test_p([0.5]) == 1.0 and t_test_p([1.0, 1.0]) == 0.0
    assert paired_difference(shifted, [0.0] * 5)['t_p'] == pytest.approx(0.05, abs=1e-4)


@pytest.mark.parametrize('tool', ['demo.method_study', 'demo.wsss_demo'])
def test_force_removes_only_what_the_tool_wrote(tool, tmp_path, monkeypatch):
    """Fails before the fix: the study had no --force (its own message named it), and
    wsss_demo --force deleted the whole work dir, unrelated files included."""
    import importlib
    mod = importlib.import_module(tool)
    work = tmp_path / 'work'
    for name in ('runs', 'results'):
        (work / name).mkdir(parents=True)
        (work / name / 'x.json').write_text('{}')
    (work / 'my_notes.txt').write_text('keep me')
    (work / 'mine').mkdir()

    class Stop(Exception):
        pass

    def stop(*a, **k):
        raise Stop

    monkeypatch.setattr(mod, 'Plan', stop)
    with pytest.raises(Stop):
        mod.main(['--preset', 'smoke', '--work-dir', str(work), '--force'])
    assert sorted(os.listdir(work)) == ['mine', 'my_notes.txt']


def _result(work, name):
    with open(osp.join(work, 'results', name + '.json')) as f:
        return json.load(f)


def test_study_smoke_controls_are_what_they_claim(smoke_study):
    """The controls' jobs carry the switch they isolate: IRD without drop, EPS with
    the default IRD's drop rule, the literal IRD, and the Eq. 1 CAM, whose CAMs
    differ from the C+1-softmax CAM of the same (identically trained) classifier."""
    from demo.method_study import setting_name
    work, out = smoke_study
    dflt = out['default_ird']
    nodrop = _result(work, 'ird_nodrop_s1')['job']
    assert nodrop['loss']['max_drop'] == 0.0 and nodrop['loss']['type'] == 'IRDSaliencyLoss'
    eps_drop = _result(work, setting_name('eps', dict(out['chosen']['eps'], drop=dict(
        max_drop=dflt['max_drop'], normalize=dflt['normalize'],
        refine_scale=dflt['refine_scale']))) + '_s1')['job']
    assert eps_drop['loss']['type'] == 'EPSSaliencyLoss'
    assert eps_drop['loss']['drop'] == {k: dflt[k] for k in ('max_drop', 'normalize',
                                                               'refine_scale')}
    assert _result(work, 'ird_literal_s1')['job']['loss']['literal'] is True
    eq1, soft = _result(work, 'cam_eq1_s1'), _result(work, 'cam_s1')
    assert eq1['job']['cam_norm'] == 'relu_max' and 'cam_norm' not in soft['job']
    assert eq1['job']['loss'] is None and soft['job']['loss'] is None
    f = sorted(x for x in os.listdir(eq1['cam_dir']) if x.endswith('.npz'))[0]
    a, b = np.load(osp.join(eq1['cam_dir'], f)), np.load(osp.join(soft['cam_dir'], f))
    assert any(not np.array_equal(a[k], b[k]) for k in a.files)
    # Holm over the named family: every control against IRD in both modes, plus IRD − EPS
    fam = out['family']
    assert len(fam) == 2 * 5 and {x['b'] for x in fam} == {'eps', 'ird_nodrop', 'eps_drop',
                                                            'ird_literal', 'cam_eq1'}
    assert all(x['holm_p'] >= x['t_p'] - 1e-12 for x in fam)
    assert out['headline']['saliency']['holm_p'] in [x['holm_p'] for x in fam]


def test_study_smoke_draws_long_big_and_downstream(smoke_study):
    from demo.method_study import PRESETS, TUNE_SEED, Plan, best
    work, out = smoke_study
    p = PRESETS['smoke']
    # each draw its own data (the generator's seed) and split, its tuning nested in it
    d1 = Plan('smoke', work, 1)
    d0 = Plan('smoke', work, 0)
    img = 'JPEGImages/train_00000.jpg'
    assert open(osp.join(d1.data, img), 'rb').read() != open(osp.join(d0.data, img),
                                                             'rb').read()
    assert not set(d1.parts['tune']) & set(d1.parts['report'])
    res_dir = osp.join(work, 'results')
    d1_tune = [f for f in os.listdir(res_dir) if f.startswith('d1_tune_')]
    assert len(d1_tune) == 2 * p['grid'] + 1
    for f in d1_tune:
        r = json.load(open(osp.join(res_dir, f)))
        assert r['job']['data'] == d1.data and set(r['scores']['saliency']) == {'tune'}
    assert out['across_draws']['saliency']['n'] == len(p['draws'])
    # the long arm trains longer; the big arm on larger crops of its own data
    longs = [f for f in os.listdir(res_dir) if f.startswith(f"long{p['long']['iters']}_")]
    assert len(longs) == 2 * len(p['long']['seeds'])
    assert all(json.load(open(osp.join(res_dir, f)))['job']['iters'] == p['long']['iters']
               for f in longs)
    bigs = [json.load(open(osp.join(res_dir, f))) for f in os.listdir(res_dir)
            if f.startswith('big_')]
    assert len(bigs) == 2 * len(p['big']['seeds'])
    assert {r['job']['setting']['refine_scale'] for r in bigs} == {0.5, None}
    assert all(r['job']['crop'] == p['big']['cls']['crop'] for r in bigs)
    # segmentors on each method's labels: seed s on classifier s, at its held-out τ
    for mo in p['down_modes']:
        for m in ('eps', 'ird'):
            for s in p['down_seeds']:
                seg = _result(work, f'seg_{m}_{mo}_pseudo_s{s}')
                assert seg['job']['mode'] == mo and 0 <= seg['miou'] <= 100
                src = osp.basename(osp.dirname(seg['job']['cam_dir']))
                assert src.endswith(f'_s{s}') and src.startswith(m)
                cls = _result(work, src)
                assert seg['job']['tau'] == best(cls['scores'][mo]['tune']['miou_miss'])[1]
    assert set(out['downstream']) == set(p['down_modes'])
    assert TUNE_SEED not in p['down_seeds']


def test_held_out_reads_the_other_scoring_and_the_neighbouring_tau():
    from demo.method_study import held_out
    from demo.runs import TAUS
    curve = [float(i) for i in range(len(TAUS))]
    curve[7] = 99.0  # the tuning part's best τ: 0.35
    rep = dict(miou_miss=[10.0 + i for i in range(len(TAUS))],
               miou_excl=[50.0 + i for i in range(len(TAUS))])
    r = dict(scores=dict(saliency=dict(tune=dict(miou_miss=curve), report=rep)))
    assert held_out(r, 'saliency') == (17.0, 0.35)
    assert held_out(r, 'saliency', 'miou_excl') == (57.0, 0.35)
    assert held_out(r, 'saliency', shift=-1) == (16.0, 0.3)
    assert held_out(r, 'saliency', shift=1) == (18.0, 0.4)
    curve[7], curve[0] = 0.0, 99.0  # best at τ 0: τ − 0.05 is off the grid
    assert held_out(r, 'saliency', shift=-1) == (None, None)
