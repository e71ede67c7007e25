"""The one-pass τ sweep (``pseudo_label_confusion``) groups pixels by what the
rule reads of them, and still equals the rule on every pixel."""
from dataclasses import dataclass

import numpy as np
import pytest

from mmwsss.evaluation import pseudo_label_confusion
from mmwsss.functional import PseudoLabelRule

TAUS = [0.0, 0.05, 0.2, 0.35, 0.5, 0.8, 1.0]


@dataclass(frozen=True)
class CountingRule(PseudoLabelRule):
    """The rule, recording how many pixels each call labels."""

    def __call__(self, cams, classes, saliency=None):
        SIZES.append(int(np.prod(cams.shape[1:])))
        return super().__call__(cams, classes, saliency)


SIZES = []


def _image(k, levels, h=120, w=160, seed=0):
    rng = np.random.default_rng(seed)
    classes = rng.choice(20, k, replace=False).tolist()  # not sorted: ties by class id
    cams = rng.choice(levels, (k, h, w)).astype(np.uint8)
    sal = rng.integers(0, 256, (h, w)).astype(np.uint8)
    gt = rng.choice([0, 255] + [c + 1 for c in classes], (h, w)).astype(np.uint8)
    return gt, cams, classes, sal


@pytest.mark.parametrize('mode', ['saliency', 'no_saliency'])
@pytest.mark.parametrize('k,levels', [(0, [0]), (1, np.arange(256)), (3, np.arange(256)),
                                      (4, [0, 1, 128, 254, 255]), (9, np.arange(256))])
def test_grouped_pixels_equal_the_rule_on_every_pixel(k, levels, mode):
    """Unsorted class ids and CAMs of a few levels (many ties between classes),
    up to 9 classes (the previous grouping gave up above 6)."""
    gt, cams, classes, sal = _image(k, levels)
    maps = (cams, classes, sal if mode == 'saliency' else None)
    rule = PseudoLabelRule(mode=mode)
    full = pseudo_label_confusion(gt, maps, rule, TAUS, 21, compact=False)
    np.testing.assert_array_equal(pseudo_label_confusion(gt, maps, rule, TAUS, 21), full)
    assert full.sum() == (gt != 255).sum() * len(TAUS)
    # float CAMs: grouped by their bits
    floats = (cams / np.float32(255)).astype(np.float32)
    maps = (floats, classes, maps[2])
    np.testing.assert_array_equal(pseudo_label_confusion(gt, maps, rule, TAUS, 21), full)


def test_the_rule_runs_on_few_pixels_per_tau():
    """Fails before the grouping by best class and value: pixels were grouped by
    all K CAM values, which for 3 noisy CAMs leaves nearly every pixel its own
    group (19,200 pixels for each τ here, against at most 2·256·3 per GT label)."""
    gt, cams, classes, sal = _image(3, np.arange(256))
    SIZES.clear()
    out = pseudo_label_confusion(gt, (cams, classes, sal), CountingRule(), TAUS, 21)
    labels = len(np.unique(gt[gt != 255]))
    assert len(SIZES) == len(TAUS) and max(SIZES) <= labels * 2 * 256 * 3 < gt.size // 3
    SIZES.clear()
    full = pseudo_label_confusion(gt, (cams, classes, sal), CountingRule(), TAUS, 21,
                                  compact=False)
    assert SIZES == [gt.size] * len(TAUS)
    np.testing.assert_array_equal(out, full)
