"""PAMR against a brute-force transcription of the reference, and its properties."""
import itertools

import pytest
import torch
import torch.nn.functional as F

from mmwsss.models.pamr import PAMR


def reference_pamr(image, mask, num_iter, dilations):
    """Araslanov & Roth's PAMR written pixel by pixel (tiny inputs only)."""
    mask = F.interpolate(mask, size=image.shape[-2:], mode='bilinear', align_corners=True)
    b, k, h, w = image.shape
    nb = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if (dy, dx) != (0, 0)]
    at = lambda t, i, j: t[..., min(max(i, 0), h - 1), min(max(j, 0), w - 1)]  # noqa: E731
    wts = torch.zeros(b, 8 * len(dilations), h, w, dtype=torch.float64)
    for i, j in itertools.product(range(h), range(w)):
        window = torch.stack([at(image, i + dy * d, j + dx * d) for d in dilations
                              for dy in (-1, 0, 1) for dx in (-1, 0, 1)], -1)  # B×K×9D
        std = window.std(-1)  # unbiased
        aff = torch.stack([-(image[..., i, j] - at(image, i + dy * d, j + dx * d)).abs()
                           / (1e-8 + 0.1 * std) for d in dilations for dy, dx in nb], -1)
        wts[:, :, i, j] = aff.mean(1).softmax(-1)
    for _ in range(num_iter):
        new = torch.zeros_like(mask)
        for i, j in itertools.product(range(h), range(w)):
            p = 0
            for d in dilations:
                for dy, dx in nb:
                    new[..., i, j] += wts[:, p, None, i, j] * at(mask, i + dy * d, j + dx * d)
                    p += 1
        mask = new
    return mask


def test_matches_reference_on_tiny_case():
    g = torch.Generator().manual_seed(0)
    image = torch.rand(2, 3, 7, 6, generator=g, dtype=torch.float64)
    mask = torch.rand(2, 3, 4, 3, generator=g, dtype=torch.float64)
    got = PAMR(num_iter=3, dilations=[1, 2, 4])(image, mask)
    want = reference_pamr(image, mask, 3, [1, 2, 4])
    assert got.shape == (2, 3, 7, 6)
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)


def test_hand_derived_two_pixel_edge():
    # 1×2 image [0, 1], d=1, replicate border: each pixel's 8 neighbours are 5
    # copies of itself (|diff| 0) and 3 of the other pixel (|diff| 1). Its 3×3
    # window holds {0×6, 1×3}: unbiased σ = sqrt(2/8) = 0.5, so the other
    # pixel's affinity is exp(-1 / (0.1·0.5)) relative to 1 for itself.
    image = torch.tensor([[[[0., 1.]]]]).expand(1, 3, 1, 2).double()
    mask = torch.tensor([[[[1., 0.]]]]).double()
    out = PAMR(num_iter=1, dilations=[1])(image, mask)
    a = torch.exp(torch.tensor(-1 / (1e-8 + 0.05), dtype=torch.float64))
    want = torch.stack([5 / (5 + 3 * a), 3 * a / (5 + 3 * a)]).view(1, 1, 1, 2)
    torch.testing.assert_close(out, want, rtol=1e-9, atol=0)


def test_channel_sums_preserved_and_mask_resized():
    g = torch.Generator().manual_seed(1)
    image = torch.rand(2, 3, 20, 16, generator=g)
    prob = torch.rand(2, 5, 10, 8, generator=g).softmax(1)
    out = PAMR(num_iter=5, dilations=[1, 2, 4])(image, prob)
    assert out.shape == (2, 5, 20, 16)
    torch.testing.assert_close(out.sum(1), torch.ones(2, 20, 16))
    assert out.min() >= 0


def test_invariant_to_image_intensity_scale():
    g = torch.Generator().manual_seed(2)
    image = torch.rand(1, 3, 12, 12, generator=g)
    mask = torch.rand(1, 2, 12, 12, generator=g)
    pamr = PAMR(num_iter=4, dilations=[1, 2])
    torch.testing.assert_close(pamr(image, mask), pamr(image * 255, mask), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(pamr(image, mask), pamr(image + 3, mask), rtol=1e-4, atol=1e-5)


def test_constant_image_keeps_constant_mask_constant():
    image = torch.full((1, 3, 9, 11), 0.7)
    mask = torch.full((1, 2, 9, 11), 0.25)
    out = PAMR(num_iter=10, dilations=[1, 2, 4, 8])(image, mask)
    torch.testing.assert_close(out, mask)


def test_gradient_flows_through_mask_not_image():
    image = torch.rand(1, 3, 8, 8, requires_grad=True)
    mask = torch.rand(1, 2, 8, 8, requires_grad=True)
    PAMR(num_iter=2, dilations=[1, 2])(image, mask).sum().backward()
    assert image.grad is None
    # each round preserves the total mass of a channel only up to the border; the
    # gradient of the sum is positive everywhere
    assert mask.grad is not None and (mask.grad > 0).all()


def test_bad_arguments():
    with pytest.raises(ValueError, match='dilations'):
        PAMR(dilations=[0])
    with pytest.raises(ValueError, match='B×3×H×W'):
        PAMR()(torch.rand(1, 3, 4, 4), torch.rand(2, 1, 4, 4))


def test_compile_is_for_cuda_and_the_cpu_stays_eager():
    """Fails before issue 22 (no ``compile`` argument). PAMR(compile=True) equals
    the reference on the CPU through the eager path: compiling there took minutes
    (2 cores), so a CPU mask never reaches torch.compile."""
    from mmwsss.models import pamr as pamr_module
    from mmwsss.models.losses import IRDSaliencyLoss
    g = torch.Generator().manual_seed(0)
    image = torch.rand(1, 3, 7, 6, generator=g, dtype=torch.float64)
    mask = torch.rand(1, 2, 4, 3, generator=g, dtype=torch.float64)
    pamr_module._COMPILED.clear()
    got = PAMR(num_iter=3, dilations=[1, 2, 4], compile=True)(image, mask)
    assert not pamr_module._COMPILED
    torch.testing.assert_close(got, reference_pamr(image, mask, 3, [1, 2, 4]), rtol=1e-10,
                               atol=1e-12)
    assert IRDSaliencyLoss(pamr_compile=True).pamr.compile
    assert not IRDSaliencyLoss().pamr.compile
