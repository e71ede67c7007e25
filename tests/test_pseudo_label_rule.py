"""The pseudo-label rule (WSSS-BED Algorithm 1): exact small cases and properties."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from mmwsss.functional import binarize_saliency, make_pseudo_label


def test_strict_saliency_threshold():
    sal = np.array([[0, 50, 51, 52, 255]], np.uint8)
    # value/255 > 0.2 strictly: 51/255 == 0.2 is NOT salient, 52 is.
    assert binarize_saliency(sal, 0.2).tolist() == [[False, False, False, True, True]]
    assert binarize_saliency(sal, 0.0).tolist() == [[False, True, True, True, True]]


def test_saliency_mode_hand_case():
    # 1×5 image, classes 3 and 7 (labels 4 and 8).
    cams = np.array([[[0.5, 0.5, 0.05, 0.3, 0.10]],
                     [[0.2, 0.6, 0.04, 0.3, 0.09]]], np.float32)
    sal = np.array([[True, True, True, True, False]])
    lab = make_pseudo_label(cams, [3, 7], sal, tau=0.1)
    # p0: 0.5 > 0.2 -> class 3; p1: 0.6 -> class 7; p2: both < tau on a salient
    # pixel -> background -> 255; p3: tie 0.3/0.3 -> lower class id (3);
    # p4: not salient -> background (1 - S = 1 >= any CAM).
    assert lab.tolist() == [[4, 8, 255, 4, 0]]
    lab = make_pseudo_label(cams, [3, 7], sal, tau=0.1, ignore_unassigned=False)
    assert lab.tolist() == [[4, 8, 0, 4, 0]]


def test_tau_is_inclusive_and_order_of_classes_does_not_matter():
    cams = np.array([[[0.1, 0.0999]]], np.float32)
    sal = np.ones((1, 2), bool)
    assert make_pseudo_label(cams, [0], sal, tau=0.1).tolist() == [[1, 255]]
    a = np.array([[[0.4]], [[0.4]]], np.float32)
    assert make_pseudo_label(a, [5, 2], np.ones((1, 1), bool)).tolist() == [[3]]


def test_non_salient_pixel_with_full_cam_is_background():
    # bg = 1 - S = 1 ties a CAM of exactly 1.0: ties go to background.
    lab = make_pseudo_label(np.ones((1, 1, 1), np.float32), [0], np.zeros((1, 1), bool))
    assert lab.tolist() == [[0]]


def test_no_saliency_mode_hand_case():
    cams = np.array([[[0.2, 0.21, 0.1, 0.5]], [[0.0, 0.0, 0.3, 0.5]]], np.float32)
    lab = make_pseudo_label(cams, [0, 1], None, tau=0.2, mode='no_saliency')
    # tie with tau -> background; 0.21 > 0.2 -> class 0; 0.3 -> class 1; tie -> class 0.
    assert lab.tolist() == [[0, 1, 2, 1]]


def test_no_labelled_class():
    sal = np.array([[True, False]])
    lab = make_pseudo_label(np.zeros((0, 1, 2), np.float32), [], sal)
    assert lab.tolist() == [[255, 0]]


def test_bad_arguments():
    with pytest.raises(ValueError, match='mode'):
        make_pseudo_label(np.zeros((1, 2, 2)), [0], None, mode='x')
    with pytest.raises(ValueError, match='saliency'):
        make_pseudo_label(np.zeros((1, 2, 2)), [0], None)
    with pytest.raises(ValueError, match='differ in size'):
        make_pseudo_label(np.zeros((1, 2, 2)), [0], np.zeros((3, 2), bool))
    with pytest.raises(ValueError, match='2 classes'):
        make_pseudo_label(np.zeros((1, 2, 2)), [0, 1], np.zeros((2, 2), bool))


def _full_argmax_reference(cams, classes, sal, tau, mode, ignore, num_classes=20):
    """Algorithm 1 literally, over all C+1 channels (WSSS-BED's run.py)."""
    h, w = cams.shape[1:]
    pred = np.zeros((num_classes + 1, h, w), np.float32)
    pred[0] = tau if mode == 'no_saliency' else 1.0 - sal.astype(np.float32)
    for c, cam in zip(classes, cams):
        pred[c + 1] = cam
    if mode == 'saliency':
        pred[1:] = np.where(pred[1:] < np.float32(tau), 0, pred[1:])
    out = pred.argmax(0).astype(np.uint8)
    if ignore and mode == 'saliency':
        out[sal & (out == 0)] = 255
    return out


@st.composite
def _inputs(draw):
    h, w = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    classes = draw(st.lists(st.integers(0, 19), min_size=0, max_size=4, unique=True))
    # uint8-quantised CAMs, as the stores hold them, so ties actually happen
    q = draw(hnp.arrays(np.uint8, (len(classes), h, w)))
    cams = q.astype(np.float32) / np.float32(255)
    sal = draw(hnp.arrays(np.bool_, (h, w)))
    tau = draw(st.sampled_from([0.0, 0.1, 0.2, 0.3, 0.5, 51 / 255, 0.9, 1.0]))
    return cams, classes, sal, tau


@settings(max_examples=300, deadline=None)
@given(_inputs(), st.sampled_from(['saliency', 'no_saliency']), st.booleans())
def test_matches_full_c_plus_1_argmax(inp, mode, ignore):
    cams, classes, sal, tau = inp
    got = make_pseudo_label(cams, classes, sal, tau, mode, ignore)
    ref = _full_argmax_reference(cams, classes, sal, tau, mode, ignore)
    np.testing.assert_array_equal(got, ref)


@settings(max_examples=300, deadline=None)
@given(_inputs(), st.sampled_from(['saliency', 'no_saliency']))
def test_properties(inp, mode):
    cams, classes, sal, tau = inp
    lab = make_pseudo_label(cams, classes, sal, tau, mode)
    allowed = {0, 255} | {c + 1 for c in classes}
    assert set(np.unique(lab).tolist()) <= allowed
    if mode == 'saliency':
        assert (lab[~sal] == 0).all()  # non-salient pixels are always background
    else:
        assert not (lab == 255).any()


@settings(max_examples=200, deadline=None)
@given(_inputs(), st.floats(0, 1), st.floats(0, 1))
def test_tau_monotonicity(inp, t1, t2):
    """A higher τ never adds foreground: class pixels at τ_hi are class pixels
    with the same label at τ_lo (saliency mode), and foreground shrinks
    (no_saliency mode)."""
    cams, classes, sal, _ = inp
    lo, hi = min(t1, t2), max(t1, t2)
    for mode in ('saliency', 'no_saliency'):
        a = make_pseudo_label(cams, classes, sal, lo, mode)
        b = make_pseudo_label(cams, classes, sal, hi, mode)
        fg_a = (a > 0) & (a < 255)
        fg_b = (b > 0) & (b < 255)
        assert not (fg_b & ~fg_a).any()
        if mode == 'saliency':
            np.testing.assert_array_equal(b[fg_b], a[fg_b])


@settings(max_examples=300, deadline=None)
@given(_inputs(), st.sampled_from(['saliency', 'no_saliency']), st.booleans())
def test_uint8_cams_equal_their_float_values(inp, mode, ignore):
    """Stores hand uint8 CAMs (v/255) straight to the rule: same labels as floats."""
    cams, classes, sal, tau = inp
    q = np.round(cams * 255).astype(np.uint8)
    np.testing.assert_array_equal(
        make_pseudo_label(q, classes, sal, tau, mode, ignore),
        make_pseudo_label(q.astype(np.float32) / np.float32(255), classes, sal, tau, mode,
                          ignore))


@pytest.mark.parametrize('thr', [0.0, 0.1, 0.2, 51 / 255, 0.3, 0.5, 0.99, 1.0])
def test_binarize_matches_float_rule_on_every_value(thr):
    v = np.arange(256, dtype=np.uint8)
    expected = (v.astype(np.float32) / np.float32(255)) > np.float32(thr)
    np.testing.assert_array_equal(binarize_saliency(v, thr), expected)


@pytest.mark.parametrize('ignore_index', [255, 254, 100])
def test_whole_array_rule_on_larger_maps(ignore_index):
    """The uint8 arithmetic of the fast rule (issue 22: no boolean-mask indexing)
    against the literal C+1 argmax on maps larger than the property tests draw,
    with 1–5 classes, another ignore index, a strided saliency view and the
    float CAMs of the same values. (A speed-up, not a fix: the old rule passes.)"""
    rng = np.random.default_rng(3)
    for trial in range(12):
        k = 1 + trial % 5
        classes = rng.choice(20, k, replace=False).tolist()
        q = rng.integers(0, 256, (k, 23, 37), dtype=np.uint8)
        q[:, :5] = q[:1, :5]  # ties between classes
        sal = (rng.random((23, 74)) > 0.3)[:, ::2]  # not contiguous
        tau = [0.0, 0.1, 51 / 255, 0.5, 1.0][trial % 5]
        for mode in ('saliency', 'no_saliency'):
            for cams in (q, q.astype(np.float32) / np.float32(255)):
                ref = _full_argmax_reference(cams.astype(np.float32) / (255 if cams.dtype ==
                                                                       np.uint8 else 1),
                                             classes, sal, tau, mode, True)
                ref[ref == 255] = ignore_index
                got = make_pseudo_label(cams, classes, sal, tau, mode, True, ignore_index)
                np.testing.assert_array_equal(got, ref)
