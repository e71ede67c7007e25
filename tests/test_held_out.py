"""Held-out τ (mmwsss.evaluation.held_out): the one rule that chooses τ, the parts, the
bootstrap over images."""
import numpy as np
import pytest

from mmwsss.evaluation import (PerImageConfusion, held_out_tau, scores_from_confusion,
                               select_tau, split_for_tuning)


def test_select_tau_is_the_first_best_among_the_eligible():
    taus = [0.1, 0.2, 0.3]
    scores = dict(miou_excl=[0.5, 0.9, 0.9], miou_miss=[0.6, 0.6, 0.4],
                  ignored_share=[0.1, 0.8, 0.2])
    assert select_tau(taus, scores, 'miss').tau == 0.1  # ties: the first
    assert select_tau(taus, scores, 'excl').tau == 0.2
    assert select_tau(taus, scores, 'excl', max_ignored=0.5).tau == 0.3
    with pytest.raises(ValueError, match='every τ leaves more than'):
        select_tau(taus, scores, 'excl', max_ignored=0.05)
    with pytest.raises(ValueError, match='select must be one of'):
        select_tau(taus, scores, 'best')


def test_the_study_and_the_demo_choose_tau_by_the_same_rule():
    from demo.method_study import best
    from demo.runs import TAUS
    rng = np.random.default_rng(0)
    for _ in range(20):
        curve = list(np.round(rng.random(len(TAUS)), 1))  # ties happen
        i = select_tau(TAUS, dict(miou_miss=curve)).index
        assert best(curve) == (curve[i], TAUS[i])


def test_split_for_tuning_parts_are_disjoint_and_checked():
    ids = [f'im{i}' for i in range(10)]
    tune, report = split_for_tuning(ids, fraction=0.3, seed=1)
    assert len(tune) == 3 and sorted(tune + report) == sorted(ids)
    assert not set(tune) & set(report)
    assert (tune, report) == split_for_tuning(ids, fraction=0.3, seed=1)
    assert split_for_tuning(ids, tune_ids=['im4', 'im1']) == (['im1', 'im4'],
                                                             [i for i in ids if i not in
                                                              ('im1', 'im4')])
    with pytest.raises(ValueError, match='not among'):
        split_for_tuning(ids, tune_ids=['x'])
    with pytest.raises(ValueError, match='exactly one'):
        split_for_tuning(ids)
    with pytest.raises(ValueError, match='both parts need'):
        split_for_tuning(ids, tune_ids=ids)


def _cm(tp_bg, tp_fg, fg_as_bg):
    """1×2×3 confusion (one τ; background, one class; no ignore)."""
    return np.array([[[tp_bg, 0, 0], [fg_as_bg, tp_fg, 0]]], np.int64)


def test_bootstrap_over_identical_images_is_a_point_and_totals_add_up():
    per = PerImageConfusion((1, 2, 3))
    for i in range(5):
        per.add(f'a{i}', _cm(10, 5, 5))
    np.testing.assert_array_equal(per.total(['a0', 'a1']), 2 * _cm(10, 5, 5))
    lo, hi = per.bootstrap([f'a{i}' for i in range(5)], 0, 'miou_miss', 200, seed=3)
    want = scores_from_confusion(_cm(10, 5, 5))['miou_miss'][0]
    assert lo == pytest.approx(want) and hi == pytest.approx(want)
    with pytest.raises(ValueError, match='expected'):
        per.add('bad', np.zeros((2, 2, 3), np.int64))


def test_held_out_tau_scores_the_report_part_at_the_tuning_choice():
    """Tuning images prefer τ index 0, report images index 1: the held-out mIoU is the
    report part's at index 0, lower than the oracle's."""
    per = PerImageConfusion((2, 2, 3))
    good, bad = _cm(10, 10, 0)[0], _cm(10, 2, 8)[0]
    for i in range(3):
        per.add(f't{i}', np.stack([good, bad]))
        per.add(f'r{i}', np.stack([bad, good]))
    per.add('r3', np.stack([bad, good]))
    out = held_out_tau(per, [0.1, 0.2], (['t0', 't1', 't2'], ['r0', 'r1', 'r2', 'r3']),
                       resamples=100)
    bad_miou = scores_from_confusion(bad[None])['miou_miss'][0]
    assert out['tau'] == 0.1 and out['report']['miou'] == pytest.approx(bad_miou)
    assert out['oracle']['tau'] == 0.2 and out['oracle']['miou'] > out['report']['miou']
    assert out['report']['ci95'] == pytest.approx([bad_miou, bad_miou])
