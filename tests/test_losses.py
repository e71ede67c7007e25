"""EPS and IRD saliency losses on tiny hand-computed cases, and their gradients."""
import pytest
import torch
import torch.nn.functional as F

from mmwsss.models.losses import eps_saliency_loss, ird_saliency_loss
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


def test_ird_loss_hand_computed_without_refinement():
    both = torch.tensor([[1., 1.]])
    image = torch.rand(1, 3, 2, 2, dtype=torch.float64)
    # num_iter=0: M_r = M_fg = [0.8, 0.8, 0.9, 0.2]; B(M_r) = [1,1,1,0] and
    # B(M_s) = [1,0,0,0] agree at pixels 0 and 3 only.
    got = ird_saliency_loss(LOGITS, SAL, both, image, num_iter=0)
    assert got.item() == pytest.approx(((1 - 0.8)**2 + 0.2**2) / 2)
    # every pixel inconsistent -> 0, and the graph still backpropagates
    logits = LOGITS.clone().requires_grad_(True)
    flipped = torch.tensor([0., 0., 0., 1.], dtype=torch.float64).view(1, 1, 2, 2)
    loss = ird_saliency_loss(logits, flipped, both, image, num_iter=0)
    loss.backward()
    assert loss.item() == 0 and torch.count_nonzero(logits.grad) == 0


def test_ird_loss_equals_per_class_refinement():
    """The loss refines M_fg once; the definition refines each class map."""
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 5, 6, 6, generator=g, dtype=torch.float64) * 2
    sal = torch.rand(2, 1, 12, 12, generator=g, dtype=torch.float64)
    labels = torch.tensor([[1., 0, 1, 0], [0, 1, 0, 0]], dtype=torch.float64)
    image = torch.rand(2, 3, 24, 24, generator=g, dtype=torch.float64)
    got = ird_saliency_loss(logits, sal, labels, image, num_iter=3, dilations=(1, 2))

    p = logits.softmax(1)
    img = F.interpolate(image, size=(6, 6), mode='bilinear', align_corners=True)
    refined = PAMR(3, [1, 2])(img, p)
    y = labels.view(2, 4, 1, 1)
    m_r = (refined[:, :-1] * y).sum(1, keepdim=True)
    m_fg = (p[:, :-1] * y).sum(1, keepdim=True)
    s = F.interpolate(sal, size=(6, 6), mode='nearest')
    keep = ~((m_r > 0.5) ^ (s > 0.5))
    want = ((s - m_fg)**2)[keep].sum() / keep.sum()
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


def test_shape_errors():
    with pytest.raises(ValueError, match='labels must be B×C'):
        eps_saliency_loss(LOGITS, SAL, torch.ones(1, 3))
    with pytest.raises(ValueError, match='saliency must be B×1×H×W'):
        ird_saliency_loss(LOGITS, SAL[0], torch.ones(1, 2), torch.rand(1, 3, 2, 2))
