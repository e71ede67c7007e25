"""DenseCRF on a segmentor's test predictions (``tools/test.py --crf``)."""
from typing import List, Optional

import numpy as np
import torch
from mmengine.structures import PixelData
from mmseg.models import SegTTAModel
from mmseg.registry import MODELS

from mmwsss.fileio.png import read_image
from mmwsss.functional.dense_crf import CRF_PRESETS, dense_crf


def crf_refine_file(img_path: str, probs: np.ndarray, crf: str = 'deeplab',
                    crf_cfg: Optional[dict] = None) -> np.ndarray:
    """:func:`mmwsss.dense_crf` of C×H×W probabilities with the image read from
    ``img_path`` (the job a worker process of ``DenseCRFTestLoop`` runs)."""
    img = read_image(img_path)
    if img.shape[:2] != probs.shape[1:]:
        raise ValueError(f'{img_path}: the image is {img.shape[:2]} but the prediction '
                         f'{tuple(probs.shape[1:])}: --crf needs predictions at the '
                         'original image size')
    try:
        return dense_crf(img, probs, crf, **(crf_cfg or {}))
    except ValueError as e:
        raise ValueError(f'{img_path}: {e}') from e


def set_refined(sample, refined: np.ndarray) -> None:
    """Put CRF-refined C×H×W probabilities on a data sample as its prediction:
    ``pred_sem_seg`` (1×H×W) and ``seg_logits`` (C×H×W float32 probabilities),
    both on the device its predictions were on (the CRF ran on the CPU)."""
    device = sample.pred_sem_seg.data.device
    pred = torch.from_numpy(np.ascontiguousarray(refined.argmax(0)))[None]
    sample.set_data(dict(pred_sem_seg=PixelData(data=pred.to(device)),
                         seg_logits=PixelData(data=torch.from_numpy(refined).to(device))))


@MODELS.register_module()
class DenseCRFSegTTAModel(SegTTAModel):
    """mmseg's ``SegTTAModel`` whose merged class probabilities are refined by a
    fully-connected CRF (:func:`mmwsss.dense_crf`) with the image, before the
    metric, ``--out`` and ``--show-dir`` see the prediction.

    Without test-time augmentation (a plain test batch) each image is its own
    single augmentation. As a ``BaseTTAModel`` it loads the segmentor's
    checkpoint as mmseg's TTA model does.

    Run alone it refines each image in ``test_step``. Under
    ``DenseCRFTestLoop`` (``tools/test.py --crf``) it only merges the
    probabilities (``defer_crf``), and the loop refines them in worker
    processes while the network goes on with the next images.

    Args:
        module (dict): the segmentor (or its config).
        crf (str): CRF preset (``'deeplab'``: DeepLab / WSSS-BED / EPS test time).
        crf_cfg (dict, optional): preset overrides.
    """

    def __init__(self, module, crf: str = 'deeplab', crf_cfg: dict = None, **kwargs):
        if crf not in CRF_PRESETS:
            raise ValueError(f'unknown CRF preset {crf!r}; one of {sorted(CRF_PRESETS)}')
        super().__init__(module=module, **kwargs)
        self.crf, self.crf_cfg = crf, dict(crf_cfg or {})
        self.defer_crf = False

    def test_step(self, data):
        samples = data['data_samples'] if isinstance(data, dict) else data[1]
        if samples and not isinstance(samples[0], (list, tuple)):  # no TTA
            return self.merge_preds([[p] for p in self.module.test_step(data)])
        return super().test_step(data)

    def merge_preds(self, data_samples_list: List) -> List:
        merged = []
        for aug in data_samples_list:
            # The mean of every augmentation's probabilities, as mmseg's merge, but in
            # float32 (a float16 softmax (AMP) may miss a sum of 1 by more than the
            # CRF's tolerance) and without mmseg's argmax, which the CRF's prediction
            # replaces (80 ms a VOC image on a CPU core, beside the CRF workers).
            probs = torch.stack([s.seg_logits.data.float().softmax(dim=0)
                                 for s in aug]).mean(0).cpu().numpy()
            # mmseg's merged sample: the last augmentation's, with the first's GT and path
            sample = aug[-1]
            if hasattr(aug[0], 'gt_sem_seg'):
                sample.set_data({'gt_sem_seg': aug[0].gt_sem_seg})
            sample.set_metainfo({'img_path': aug[0].img_path})
            if self.defer_crf:
                sample.set_field(probs, 'crf_probs', field_type='metainfo')
            else:
                set_refined(sample, crf_refine_file(sample.img_path, probs, self.crf,
                                                    self.crf_cfg))
            merged.append(sample)
        return merged
