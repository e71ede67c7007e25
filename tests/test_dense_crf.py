"""mmwsss.dense_crf: the published presets through pydensecrf2 (the [crf] extra)."""
import sys

import numpy as np
import pytest

from mmwsss import dense_crf
from mmwsss.functional.dense_crf import CRF_PRESETS, cam_probs, crf_label

dcrf = pytest.importorskip('pydensecrf.densecrf')  # make test installs it: runs in CI


def _scene(h=48, w=64, seed=0):
    """A sharp-edged square on a textured background, and a blurred,
    shifted probability map of it."""
    rng = np.random.default_rng(seed)
    mask = np.zeros((h, w), bool)
    mask[12:36, 20:44] = True
    img = np.where(mask[..., None], [200, 40, 40], [40, 60, 200]).astype(np.float32)
    img = np.clip(img + rng.normal(0, 8, img.shape), 0, 255).astype(np.uint8)
    yy, xx = np.mgrid[:h, :w]
    d = np.maximum(np.abs(yy - 25) / 14, np.abs(xx - 34) / 14)  # shifted, too large
    fg = 1 / (1 + np.exp(4 * (d - 1)))
    return img, np.stack([1 - fg, fg]).astype(np.float32), mask


def test_equals_direct_pydensecrf_calls():
    from pydensecrf.utils import unary_from_softmax
    img, probs, _ = _scene()
    for preset, p in CRF_PRESETS.items():
        crf = dcrf.DenseCRF2D(img.shape[1], img.shape[0], 2)
        crf.setUnaryEnergy(np.ascontiguousarray(unary_from_softmax(probs)))
        crf.addPairwiseGaussian(sxy=p['gauss_sxy'], compat=p['gauss_compat'])
        crf.addPairwiseBilateral(sxy=p['bi_sxy'], srgb=p['bi_srgb'], rgbim=img,
                                 compat=p['bi_compat'])
        want = np.asarray(crf.inference(p['iterations'])).reshape(probs.shape)
        np.testing.assert_array_equal(dense_crf(img, probs, preset), want)
    assert CRF_PRESETS['deeplab'] == dict(iterations=10, gauss_sxy=1, gauss_compat=3,
                                          bi_sxy=67, bi_srgb=3, bi_compat=4)


def test_crf_raises_iou_with_a_sharp_object():
    img, probs, mask = _scene()

    def iou(pred):
        return (pred & mask).sum() / (pred | mask).sum()

    before = iou(probs.argmax(0) == 1)
    after = iou(dense_crf(img, probs, 'deeplab').argmax(0) == 1)
    assert before < 0.8 and after > before + 0.1


def test_cam_label_and_errors():
    img, probs, mask = _scene()
    lab = crf_label(img, probs[1:], [14], tau=0.5, preset='psa')
    assert lab.dtype == np.uint8 and set(np.unique(lab)) <= {0, 15}
    assert (lab[mask] == 15).mean() > 0.9
    p = cam_probs(probs[1:], alpha=4)
    np.testing.assert_allclose(p.sum(0), 1, rtol=1e-5)
    with pytest.raises(ValueError, match='unknown CRF preset'):
        dense_crf(img, probs, 'nope')
    with pytest.raises(ValueError, match='unknown CRF parameter'):
        dense_crf(img, probs, bi_sigma=3)
    with pytest.raises(ValueError, match='H×W×3 uint8'):
        dense_crf(img.astype(np.float32), probs)


def test_missing_extra_is_a_clear_error(monkeypatch):
    img, probs, _ = _scene()
    monkeypatch.setitem(sys.modules, 'pydensecrf', None)
    monkeypatch.setitem(sys.modules, 'pydensecrf.densecrf', None)
    with pytest.raises(ImportError, match=r"pip install -e '\.\[crf\]'"):
        dense_crf(img, probs)


def test_bad_probabilities_and_settings_are_refused():
    """Fails before the fix: NaN, negative or unnormalised probabilities and logits
    were accepted in silence (100 NaN pixels made the whole image label 0); a kernel
    width of 0 segfaulted pydensecrf2; 0 classes gave a cryptic reshape error."""
    img, probs, _ = _scene()
    nan = probs.copy()
    nan[:, :2, :50] = np.nan  # 100 pixels
    with pytest.raises(ValueError, match=r'NaN or infinite values at 100 pixel'):
        dense_crf(img, nan)
    with pytest.raises(ValueError, match=r'\[0, 1\].*not logits'):
        dense_crf(img, np.log(probs + 1e-6) - 1)  # logits
    with pytest.raises(ValueError, match=r'\[0, 1\]'):
        dense_crf(img, probs - 0.1)
    half = probs * 0.5
    with pytest.raises(ValueError, match=r'sum to 1.*3072 pixel\(s\) do not'):
        dense_crf(img, half)
    ok = probs * (1 + 5e-4)  # within the tolerance: a float16 softmax's rounding
    ok[0] = 1 - ok[1]
    dense_crf(img, ok)
    with pytest.raises(ValueError, match=r'C >= 1 classes'):
        dense_crf(img, probs[:0])
    with pytest.raises(ValueError, match=r'probs are 48×63 \(H×W\) but the image is 48×64'):
        dense_crf(img, probs[:, :, 1:])
    for name in ('gauss_sxy', 'bi_sxy', 'bi_srgb'):
        for v in (0, -1):
            with pytest.raises(ValueError, match=f'kernel widths must be > 0.*{name}={v}'):
                dense_crf(img, probs, **{name: v})
    with pytest.raises(ValueError, match='finite number'):
        dense_crf(img, probs, bi_compat=float('nan'))
    with pytest.raises(ValueError, match='iterations must be a whole number'):
        dense_crf(img, probs, iterations=2.5)


def test_crf_worker_error_names_the_image(tmp_path):
    """Fails before the fix: the CRF of a test image with NaN probabilities gave a label
    map of 0 and no error; now the error names the image file."""
    from PIL import Image

    from mmwsss.models.segmentors.crf_tta import crf_refine_file
    img, probs, _ = _scene()
    Image.fromarray(img).save(tmp_path / 'x.png')
    probs[:, 0, 0] = np.nan
    with pytest.raises(ValueError, match=r'x\.png: probs hold NaN'):
        crf_refine_file(str(tmp_path / 'x.png'), probs)


def _refine_or_die(img_path, probs, crf='deeplab', crf_cfg=None):
    """A stand-in for the CRF whose worker process is killed on ``b.png``."""
    import os
    import signal
    if img_path == 'b.png':
        os.kill(os.getpid(), signal.SIGKILL)
    return probs


def test_a_killed_crf_worker_ends_the_run_naming_its_image(monkeypatch):
    """Fails before the fix: the loop's ``multiprocessing.Pool`` replaced a killed CRF
    worker and lost its image, so ``tools/test.py --crf`` waited for ever (here: the
    run still going after 20 s). Now the run ends at once with an error naming the image
    and the signal. ``DenseCRFTestLoop`` with a stand-in runner and network, and a CRF
    (patched before the workers fork) that kills its worker on one image."""
    import threading
    import time
    import types

    import torch
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample

    from mmwsss.engine import DenseCRFTestLoop, loops
    from mmwsss.models.segmentors.crf_tta import DenseCRFSegTTAModel

    class Net(DenseCRFSegTTAModel):

        def __init__(self):  # no segmentor: the loop only needs test_step and the preset
            torch.nn.Module.__init__(self)
            self.crf, self.crf_cfg, self.defer_crf = 'deeplab', {}, False

        def test_step(self, img_path):
            s = SegDataSample(metainfo=dict(img_path=img_path))
            s.pred_sem_seg = PixelData(data=torch.zeros(1, 4, 4, dtype=torch.long))
            s.set_field(np.full((2, 4, 4), 0.5, np.float32), 'crf_probs',
                        field_type='metainfo')
            return [s]

    class Batches(list):
        dataset = ()

    monkeypatch.setattr(loops, 'crf_refine_file', _refine_or_die)
    runner = types.SimpleNamespace(model=Net(), call_hook=lambda *a, **k: None)
    evaluator = types.SimpleNamespace(process=lambda **k: None, evaluate=lambda n: {})
    loop = DenseCRFTestLoop(runner, Batches(['a.png', 'b.png', 'c.png', 'd.png']),
                            evaluator, num_workers=2)
    raised = []

    def run():
        try:
            loop.run()
        except BaseException as e:  # noqa: B036  (handed to the test's thread)
            raised.append(e)

    start = time.monotonic()
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(20)
    assert not thread.is_alive(), 'the run hangs on the killed worker\'s image'
    assert time.monotonic() - start < 10
    assert len(raised) == 1 and isinstance(raised[0], RuntimeError), raised
    msg = str(raised[0])
    assert 'b.png' in msg and 'SIGKILL' in msg, msg
