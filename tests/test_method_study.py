"""The method study (``demo/method_study.py``): its statistics, and its smallest
preset end to end (tuning, report seeds, the IRD switches, an error rate,
segmentors with 0/10/100 % GT, the classifier's GT loss), resumed, and one run
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
    for section in ('### Tuning', '### Report part', '### Paired differences',
                    "### IRD's switches", '### The erroneous source', '### Semi-supervised',
                    'loss_gt_weight', '**Headline**'):
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
    # equal budgets: one tuning run per setting of each loss, and the headline reads
    assert len(tuning) == 1 + 2 * PRESETS['smoke']['grid']
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
    assert read_headline(doc).startswith('Headline (seeds [1, 2], report part): IRD (default')


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
