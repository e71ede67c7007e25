"""EPS and IRD saliency losses: hand-computed cases, gradients, and what they do in
training (no trivial optimum)."""
from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F

from mmwsss.models.losses import (EPSSaliencyLoss, IRDRule, IRDSaliencyLoss, bounded_drop,
                                  ird_drop_mask,
                                  eps_saliency_loss, ird_saliency_loss, refine_foreground)

LITERAL = IRDRule.literal()
from mmwsss.models.pamr import PAMR

# Class 0, class 1, background (last) at 4 pixels of a 2×2 map (row major).
PROB = torch.tensor([[0.7, 0.1, 0.2], [0.6, 0.2, 0.2], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8]],
                    dtype=torch.float64)
LOGITS = PROB.log().T.reshape(1, 3, 2, 2)
SAL = torch.tensor([1., 0., 0., 0.], dtype=torch.float64).view(1, 1, 2, 2)


def test_eps_loss_hand_computed():
    both = torch.tensor([[1., 1.]])
    # round(p0) = [1,1,0,0]: overlap 1 / 2.0004 > 0.4 -> class 0 is foreground;
    # round(p1) = [0,0,1,0]: overlap 0 -> class 1 joins the background. With
    # every class labelled, 1 - (p1 + p_bg) = p0, so the estimate is p0.
    want = ((0.7 - 1)**2 + 0.6**2 + 0.1**2 + 0.1**2) / 4
    assert eps_saliency_loss(LOGITS, SAL, both, tau=0.4).item() == pytest.approx(want)
    # tau 0.5: class 0 fails too -> fg = 0, bg = 1 -> estimate 0 everywhere.
    assert eps_saliency_loss(LOGITS, SAL, both, tau=0.5).item() == pytest.approx(0.25)
    # Class 1 unlabelled: in neither map. 0.3·p0 + 0.7·(1 - p_bg).
    est = [0.3 * a + 0.7 * (1 - b) for a, b in [(0.7, 0.2), (0.6, 0.2), (0.1, 0.1), (0.1, 0.8)]]
    want = sum((e - s)**2 for e, s in zip(est, [1, 0, 0, 0])) / 4
    got = eps_saliency_loss(LOGITS, SAL, torch.tensor([[1., 0.]]), tau=0.4, lam=0.3)
    assert got.item() == pytest.approx(want)


def test_eps_loss_resizes_saliency_nearest():
    big = torch.zeros(1, 1, 4, 4, dtype=torch.float64)
    big[0, 0, 0, 0] = 1  # the nearest samples of a 4×4 -> 2×2 resize are rows/cols 0, 2
    big[0, 0, 1, 1] = big[0, 0, 3, 3] = 1  # never sampled
    both = torch.tensor([[1., 1.]])
    torch.testing.assert_close(eps_saliency_loss(LOGITS, big, both),
                               eps_saliency_loss(LOGITS, SAL, both))


def test_eps_loss_gradient():
    logits = LOGITS.clone().requires_grad_(True)
    lab = torch.tensor([[1., 0.]], dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda x: eps_saliency_loss(x, SAL, lab, lam=0.3), logits)
    # the overlap decision is made on detached probabilities: no gradient path
    # through round(), so the gradient equals that of the plain blend
    loss = eps_saliency_loss(logits, SAL, lab, lam=0.3)
    (g, ) = torch.autograd.grad(loss, logits)
    p = logits.softmax(1)
    ref = F.mse_loss(0.3 * p[:, :1] + 0.7 * (1 - p[:, 2:]), SAL)
    (g_ref, ) = torch.autograd.grad(ref, logits)
    torch.testing.assert_close(g, g_ref)


def test_ird_literal_hand_computed_without_refinement():
    both = torch.tensor([[1., 1.]])
    image = torch.rand(1, 3, 2, 2, dtype=torch.float64)
    # num_iter=0: M_r = M_fg = [0.8, 0.8, 0.9, 0.2]; B(M_r) = [1,1,1,0] and
    # B(M_s) = [1,0,0,0] agree at pixels 0 and 3 only.
    got = ird_saliency_loss(LOGITS, SAL, both, image, LITERAL, num_iter=0)
    assert got.item() == pytest.approx(((1 - 0.8)**2 + 0.2**2) / 2)
    # every pixel inconsistent -> 0, and the graph still backpropagates
    logits = LOGITS.clone().requires_grad_(True)
    flipped = torch.tensor([0., 0., 0., 1.], dtype=torch.float64).view(1, 1, 2, 2)
    loss = ird_saliency_loss(logits, flipped, both, image, LITERAL, num_iter=0)
    loss.backward()
    assert loss.item() == 0 and torch.count_nonzero(logits.grad) == 0


def test_ird_literal_equals_per_class_refinement():
    """The seed-literal loss: it refines M_fg once where the definition refines
    each class map, and normalises each image by its own count of kept pixels."""
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 5, 6, 6, generator=g, dtype=torch.float64) * 2
    sal = torch.rand(2, 1, 12, 12, generator=g, dtype=torch.float64)
    labels = torch.tensor([[1., 0, 1, 0], [0, 1, 0, 0]], dtype=torch.float64)
    image = torch.rand(2, 3, 24, 24, generator=g, dtype=torch.float64)
    got = ird_saliency_loss(logits, sal, labels, image, LITERAL, num_iter=3, dilations=(1, 2))

    p = logits.softmax(1)
    img = F.interpolate(image, size=(6, 6), mode='bilinear', align_corners=True)
    refined = PAMR(3, [1, 2])(img, p)
    y = labels.view(2, 4, 1, 1)
    m_r = (refined[:, :-1] * y).sum(1, keepdim=True)
    m_fg = (p[:, :-1] * y).sum(1, keepdim=True)
    s = F.interpolate(sal, size=(6, 6), mode='nearest')
    keep = ~((m_r > 0.5) ^ (s > 0.5))
    # each image over its own count of kept pixels, then the mean of the images
    want = sum(((s - m_fg)**2)[i][keep[i]].sum() / keep[i].sum() for i in range(2)) / 2
    assert 0 < keep.sum() < keep.numel()  # a real drop happens in this case
    torch.testing.assert_close(got, want)


def test_ird_loss_gradient():
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(1, 3, 3, 3, generator=g, dtype=torch.float64).requires_grad_(True)
    sal = (torch.rand(1, 1, 3, 3, generator=g) > 0.5).double()
    image = torch.rand(1, 3, 6, 6, generator=g, dtype=torch.float64)
    lab = torch.tensor([[1., 1.]], dtype=torch.float64)
    assert torch.autograd.gradcheck(
        lambda x: ird_saliency_loss(x, sal, lab, image, num_iter=2, dilations=(1, )), logits,
        fast_mode=True)


# --- the normaliser: 1/|1−N| per image (the seed) or pooled over the batch ----------
def _batch():
    g = torch.Generator().manual_seed(3)
    logits = torch.randn(3, 4, 6, 6, generator=g, dtype=torch.float64) * 2
    sal = (torch.rand(3, 1, 12, 12, generator=g) > 0.6).double()
    labels = torch.tensor([[1., 0, 1], [0, 1, 0], [1, 1, 1]], dtype=torch.float64)
    image = torch.rand(3, 3, 24, 24, generator=g, dtype=torch.float64)
    return logits, sal, labels, image


def _alone(logits, sal, labels, image, rule):
    return [ird_saliency_loss(logits[i:i + 1], sal[i:i + 1], labels[i:i + 1], image[i:i + 1],
                              rule, num_iter=3, dilations=(1, 2)) for i in range(len(logits))]


def test_ird_literal_batch_loss_is_the_mean_of_its_images_alone():
    logits, sal, labels, image = _batch()
    batch = ird_saliency_loss(logits, sal, labels, image, LITERAL, num_iter=3, dilations=(1, 2))
    torch.testing.assert_close(batch, torch.stack(_alone(logits, sal, labels, image,
                                                          LITERAL)).mean())
    module = IRDSaliencyLoss(num_iter=3, dilations=(1, 2), literal=True)
    torch.testing.assert_close(module(logits, sal, labels, image), batch)
    # the images keep different counts, so a count pooled over the batch differs
    pooled = ird_saliency_loss(logits, sal, labels, image, replace(LITERAL, per_image=False),
                               num_iter=3, dilations=(1, 2))
    assert abs(pooled.item() - batch.item()) > 1e-3


def test_ird_default_pools_the_count_over_the_batch():
    """The working formulation weighs every kept pixel of the batch alike: the
    batch loss is the images' losses averaged with their kept counts as weights."""
    logits, sal, labels, image = _batch()
    rule = IRDRule()
    batch = ird_saliency_loss(logits, sal, labels, image, rule, num_iter=3, dilations=(1, 2))
    m_fg = (logits.softmax(1)[:, :-1] * labels.view(3, 3, 1, 1)).sum(1, keepdim=True)
    m_r = refine_foreground(m_fg, image, PAMR(3, (1, 2)), None)
    m_r = m_r / (m_r.flatten(1).max(1)[0].view(3, 1, 1, 1) + 1e-5)
    kept = (~bounded_drop(m_r, F.interpolate(sal, size=(6, 6)) > 0.5, 0.5)).flatten(1).sum(1)
    assert len(set(kept.tolist())) > 1
    alone = torch.stack(_alone(logits, sal, labels, image, rule))
    torch.testing.assert_close(batch, (alone * kept).sum() / kept.sum())
    per_image = ird_saliency_loss(logits, sal, labels, image, replace(rule, per_image=True),
                                  num_iter=3, dilations=(1, 2))
    torch.testing.assert_close(per_image, alone.mean())


def test_ird_literal_gradient_is_each_image_alone_over_the_batch():
    """Per image, an image with few kept pixels is not drowned by the others:
    its gradient in the batch is its gradient alone divided by B."""
    logits, sal, labels, image = _batch()
    x = logits.clone().requires_grad_(True)
    (g, ) = torch.autograd.grad(ird_saliency_loss(x, sal, labels, image, LITERAL, num_iter=3,
                                                  dilations=(1, 2)), x)
    for i, loss in enumerate(_alone(x, sal, labels, image, LITERAL)):
        (g_i, ) = torch.autograd.grad(loss, x)
        assert g[i].abs().sum() > 0
        torch.testing.assert_close(g[i], g_i[i] / 3)
    assert torch.autograd.gradcheck(
        lambda y: ird_saliency_loss(y, sal[:2], labels[:2], image[:2], LITERAL, num_iter=3,
                                    dilations=(1, 2)), logits[:2].clone().requires_grad_(True),
        fast_mode=True)


def test_ird_rule_checks_its_settings():
    with pytest.raises(ValueError, match='max_drop must be in'):
        IRDRule(max_drop=-0.1)
    with pytest.raises(ValueError, match='refine_scale must be positive'):
        IRDRule(refine_scale=0)
    assert LITERAL == IRDRule(None, False, 1.0, per_image=True)


def test_shape_errors():
    with pytest.raises(ValueError, match='labels must be B×C'):
        eps_saliency_loss(LOGITS, SAL, torch.ones(1, 3))
    with pytest.raises(ValueError, match='saliency must be B×1×H×W'):
        ird_saliency_loss(LOGITS, SAL[0], torch.ones(1, 2), torch.rand(1, 3, 2, 2))


# --- the working IRD formulation: what it must do in training ------------------------
# A 32×32 image with a red square (the labelled class 0 of C = 2) on grey; the
# classifier's maps are 8×8 (stride 4), the object covers map cells [2:6, 2:6].
def _scene():
    image = torch.full((1, 3, 32, 32), 0.5, dtype=torch.float64)
    image[0, :, 8:24, 8:24] = torch.tensor([0.9, 0.1, 0.1], dtype=torch.float64).view(3, 1, 1)
    obj = torch.zeros(1, 1, 8, 8, dtype=torch.bool)
    obj[..., 2:6, 2:6] = True
    sal = F.interpolate(obj.double(), size=(32, 32), mode='nearest')
    labels = torch.tensor([[1., 0.]], dtype=torch.float64)
    return image, obj, sal, labels


def _logits(fg: torch.Tensor, strength=10.0):
    """Saturated logits: class 0 where ``fg``, background elsewhere."""
    fg = fg.double()
    return torch.cat([strength * fg, torch.zeros_like(fg), strength * (1 - fg)], dim=1)


@pytest.mark.parametrize('kwargs', [{}, dict(max_drop=0.3), dict(refine_scale=0.5),
                                    dict(normalize=False), dict(per_image=True)])
def test_ird_trivial_predictions_are_punished(kwargs):
    image, obj, sal, labels = _scene()
    rule = IRDRule(**kwargs)
    correct = ird_saliency_loss(_logits(obj), sal, labels, image, rule).item()
    for trivial in (torch.zeros_like(obj), torch.ones_like(obj)):  # all bg, all fg
        loss = ird_saliency_loss(_logits(trivial), sal, labels, image, rule).item()
        assert loss >= 0.05 and loss >= 5 * correct, (trivial.all(), loss, correct)
    # the seed's formula read literally: both trivial predictions score 0
    for trivial in (torch.zeros_like(obj), torch.ones_like(obj)):
        assert ird_saliency_loss(_logits(trivial), sal, labels, image, LITERAL) < 1e-8


def test_ird_gradient_at_a_uniform_start_raises_the_labelled_class_on_the_object():
    image, obj, sal, labels = _scene()
    logits = torch.zeros(1, 3, 8, 8, dtype=torch.float64, requires_grad=True)
    ird_saliency_loss(logits, sal, labels, image).backward()
    g = logits.grad[0]
    # gradient descent moves against the gradient: class 0 up on the object, the
    # background down there, and class 0 down off the object
    assert (g[0][obj[0, 0]] < 0).all() and (g[2][obj[0, 0]] > 0).all()
    assert (g[0][~obj[0, 0]] >= 0).all()


def test_ird_forgives_a_saliency_map_that_misses_part_of_the_object():
    image, obj, _, labels = _scene()
    partial = torch.zeros(1, 1, 32, 32, dtype=torch.float64)
    partial[..., 8:24, 8:16] = 1  # the saliency covers the left half only
    logits = _logits(obj)
    mse = F.mse_loss(F.softmax(logits, 1)[:, :1], F.interpolate(partial, size=(8, 8)))
    loss = ird_saliency_loss(logits, partial, labels, image)
    assert mse > 0.1 and loss < 0.05 * mse


@pytest.mark.parametrize('start', ['background', 'foreground'])
def test_ird_training_escapes_a_trivial_start(start):
    """Free logits trained by the loss alone: from an all-background or
    all-foreground start the working loss finds the object; the literal seed
    formula stays where it started (loss 0, gradient 0)."""
    image, obj, sal, labels = _scene()
    init = torch.zeros_like(obj) if start == 'background' else torch.ones_like(obj)
    for literal in (False, True):
        rule = LITERAL if literal else IRDRule()
        logits = _logits(init, 5.0).clone().requires_grad_(True)
        opt = torch.optim.Adam([logits], lr=0.2)
        for _ in range(150):
            opt.zero_grad()
            ird_saliency_loss(logits, sal, labels, image, rule).backward()
            opt.step()
        fg = logits.detach().softmax(1)[:, :1] > 0.5
        if literal:
            assert torch.equal(fg, init)
        else:
            assert torch.equal(fg, obj)


def test_bounded_drop_keeps_most_of_each_side():
    g = torch.Generator().manual_seed(0)
    m_r = torch.rand(3, 1, 10, 10, generator=g)
    sal = torch.rand(3, 1, 10, 10, generator=g) > 0.7
    for max_drop in (0.0, 0.1, 0.3, 1.0):
        drop = bounded_drop(m_r, sal, max_drop)
        assert not (drop & ((m_r > 0.5) == sal)).any()  # only inconsistent pixels
        for side in (sal, ~sal):
            n = side.flatten(1).sum(1)
            assert ((drop & side).flatten(1).sum(1) <= (n * max_drop).floor()).all()
    # the most inconsistent go first: the dropped salient pixels have the lowest M_r
    drop = bounded_drop(m_r, sal, 0.2)
    for i in range(3):
        d, s, m = drop[i, 0], sal[i, 0], m_r[i, 0]
        kept_bad = s & ~d & (m <= 0.5)
        if (d & s).any() and kept_bad.any():
            assert m[d & s].max() <= m[kept_bad].min()
    assert torch.equal(bounded_drop(m_r, sal, 1.0), (m_r > 0.5) != sal)


def test_loss_modules_equal_the_functions():
    g = torch.Generator().manual_seed(2)
    logits = torch.randn(2, 4, 8, 8, generator=g, dtype=torch.float64)
    sal = torch.rand(2, 1, 32, 32, generator=g, dtype=torch.float64)
    labels = torch.tensor([[1., 0, 1], [0, 1, 0]], dtype=torch.float64)
    image = torch.rand(2, 3, 32, 32, generator=g, dtype=torch.float64)
    torch.testing.assert_close(IRDSaliencyLoss()(logits, sal, labels, image),
                               ird_saliency_loss(logits, sal, labels, image))
    torch.testing.assert_close(IRDSaliencyLoss(literal=True, loss_weight=2.)(
        logits, sal, labels, image), 2 * ird_saliency_loss(logits, sal, labels, image,
                                                           LITERAL))
    torch.testing.assert_close(EPSSaliencyLoss(tau=0.3, lam=0.7)(logits, sal, labels),
                               eps_saliency_loss(logits, sal, labels, tau=0.3, lam=0.7))
    from mmseg.registry import MODELS
    import mmwsss  # noqa: F401
    built = MODELS.build(dict(type='IRDSaliencyLoss', max_drop=0.5, num_iter=3))
    assert built.loss_name == 'loss_sal' and built.pamr.num_iter == 3
    assert built.rule == IRDRule(max_drop=0.5)
    with pytest.raises(ValueError, match='max_drop must be in'):
        IRDSaliencyLoss(max_drop=1.5)


# --- the controls of the method study: IRD without drop, EPS with IRD's drop -------
def test_ird_with_max_drop_0_is_the_plain_mse_onto_m_fg():
    logits, sal, labels, image = _batch()
    loss = ird_saliency_loss(logits, sal, labels, image, IRDRule(max_drop=0.0))
    m_fg = (logits.softmax(1)[:, :-1] * labels.view(3, 3, 1, 1)).sum(1, keepdim=True)
    torch.testing.assert_close(loss, F.mse_loss(m_fg, F.interpolate(sal, size=(6, 6))))
    assert IRDSaliencyLoss(max_drop=0).rule.max_drop == 0.0


def test_eps_with_drop_drops_the_pixels_ird_drops_and_no_gradient_flows_there():
    """One drop mask (ird_drop_mask) for both losses: EPS's control leaves out exactly
    the pixels IRD would drop on the same logits, and its gradient there is zero."""
    logits, sal, labels, image = _batch()
    rule = IRDRule(max_drop=0.5)
    pamr = PAMR(3, (1, 2))
    sal_s = F.interpolate(sal, size=(6, 6))
    m_fg = (logits.softmax(1)[:, :-1] * labels.view(3, 3, 1, 1)).sum(1, keepdim=True)
    dropped = ird_drop_mask(m_fg, sal_s, image, pamr, rule)
    # IRD's loss is the MSE over exactly the pixels the mask keeps
    keep = (~dropped).double()
    torch.testing.assert_close(
        ird_saliency_loss(logits, sal, labels, image, rule, num_iter=3, dilations=(1, 2)),
        (keep * (sal_s - m_fg).square()).sum() / keep.sum())
    assert 0 < dropped.sum() < dropped.numel()
    # the EPS module with drop uses the same mask: its per-pixel gradient is zero there
    loss_mod = EPSSaliencyLoss(tau=0.4, lam=0.5, drop=dict(max_drop=0.5))
    assert loss_mod.drop_rule == rule
    loss_mod.pamr = pamr  # the same PAMR as above
    x = logits.clone().requires_grad_(True)
    loss = loss_mod(x, sal, labels, image)
    loss.backward()
    grad = x.grad.abs().sum(1, keepdim=True)
    assert (grad[dropped] == 0).all() and (grad[~dropped] > 0).any()
    # ... and its value is EPS's squared error averaged over the kept pixels
    no_drop = eps_saliency_loss(logits, sal, labels, 0.4, 0.5)
    assert abs(loss.item() - no_drop.item()) > 1e-6
    torch.testing.assert_close(
        eps_saliency_loss(logits, sal, labels, 0.4, 0.5, image,
                          IRDRule(max_drop=0.0)), no_drop)
    with pytest.raises(ValueError, match='needs the image'):
        eps_saliency_loss(logits, sal, labels, drop=rule)
    with pytest.raises(ValueError, match='unknown keys'):
        EPSSaliencyLoss(drop=dict(maxdrop=0.5))
