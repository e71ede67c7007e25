"""A metric that writes a classifier's CAMs as a CAM store, as mmseg's
``IoUMetric(output_dir=...)`` writes predictions behind ``tools/test.py --out``:
``tools/make_cams.py`` is then a ``Runner.test()`` run, with DDP, the CPU path and
checkpoint loading from the same place as training."""
import os.path as osp
from typing import Dict, List, Optional, Sequence

import numpy as np

from mmengine.evaluator import BaseMetric
from mmseg.registry import METRICS

from mmwsss.fileio import cam_path, save_cams_bed_png, save_cams_npz
from mmwsss.fileio.cam_store import save_image_pack
from mmwsss.fileio.packed_maps import Codec


@METRICS.register_module()
class CAMStoreWriter(BaseMetric):
    """Write each test sample's ``pred_cams`` (``EPSClassifier.predict``) into a
    CAM store; the "metric" is the number of images written.

    Args:
        out_dir (str): the CAM store folder.
        cam_format (str): ``'npz'`` (``<img_id>.npz``), ``'bed_png'``
            (``<img_id>_<c>.png``) or ``'packed'`` (``<img_id>.maps``: the
            uint8 CAMs, and the saliency map from ``sal_dir`` when given).
        dtype (str): npz CAM dtype, ``'uint8'`` or ``'float16'``.
        sal_dir (str, optional): ``packed``: the folder of ``<img_id>.png``
            saliency maps packed beside the CAMs.
        compress (str, optional), level (int, optional): ``packed``: the
            codec (:func:`mmwsss.fileio.packed_maps.save_packed`); None:
            uncompressed.
        collect_device (str): how the ranks' counts are gathered. Default
            ``'gpu'``: mmengine's name for gathering over the process group
            (gloo on the CPU too). Its ``'cpu'`` default pickles them into a
            ``.dist_test/`` folder it makes in the current directory (with
            ``collect_dir=None``), outside the store and the work dir, and
            needs that folder shared between nodes.
    """
    default_prefix = 'cams'

    def __init__(self, out_dir: str, cam_format: str = 'npz', dtype: str = 'uint8',
                 sal_dir: Optional[str] = None, compress: Optional[str] = None,
                 level: Optional[int] = None, collect_device: str = 'gpu',
                 **kwargs) -> None:
        super().__init__(collect_device=collect_device, **kwargs)
        if cam_format not in ('npz', 'bed_png', 'packed'):
            raise ValueError(f"cam_format must be 'npz', 'bed_png' or 'packed', not "
                             f'{cam_format!r}')
        if cam_format != 'packed' and (sal_dir or compress):
            raise ValueError(f'sal_dir and compress apply to packed stores, not {cam_format}')
        self.out_dir, self.cam_format, self.dtype = out_dir, cam_format, dtype
        self.sal_dir, self.compress, self.level = sal_dir, compress, level

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            img_id = sample.get('img_id') or osp.splitext(osp.basename(sample['img_path']))[0]
            cams = sample['pred_cams']['data'].float().cpu().numpy()  # K×H×W in [0, 1]
            keys = [int(k) for k in sample['cam_classes']]
            if self.cam_format == 'npz':
                save_cams_npz(cam_path(self.out_dir, img_id, 'npz'), keys, cams, self.dtype)
            elif self.cam_format == 'packed':  # the packing step of tools/pack_maps.py
                cams = np.round(np.clip(cams, 0, 1) * 255).astype(np.uint8)  # as npz uint8
                sal = None if self.sal_dir is None else osp.join(self.sal_dir, img_id + '.png')
                save_image_pack(cam_path(self.out_dir, img_id, 'packed'), img_id, keys, cams,
                                sal, codec=Codec(self.compress, self.level))
            else:
                save_cams_bed_png(self.out_dir, img_id, keys, cams)
            self.results.append(1)

    def compute_metrics(self, results: List) -> Dict[str, float]:
        return dict(num_written=float(len(results)))
