"""A config shrunk to run in minutes on a small machine: ``tools/train.py --smoke``.

The model stays the config's own network (so a smoke run shows that this leaf
builds, reads its data, trains and validates); what shrinks is everything that
costs time or needs hardware or network: the crop, the batch, the iterations,
the validation set, SyncBN (needs CUDA), mixed precision (needs a GPU) and the
pretrained download.
"""
from typing import List, Tuple

from mmengine.device import (is_cuda_available, is_mlu_available, is_musa_available,
                             is_npu_available)

from .checks import _walk
from mmwsss.parallel.dist import sync_bn_to_bn

SMOKE_ITERS = 4
SMOKE_CROP = (64, 64)
SMOKE_BATCH = 2
SMOKE_VAL_IMAGES = 2


def _shrink_pipeline(pipeline, crop: Tuple[int, int], train: bool) -> List[str]:
    """Crops to ``crop``; resizes to a few times ``crop`` (the image sizes are
    what costs time on a CPU). Returns what changed."""
    changed = []
    for i, step in enumerate(pipeline or []):
        for where, t in _walk(step, str(i)):
            kind = str(t.get('type', '')).split('.')[-1]
            if 'crop_size' in t and kind.endswith('Crop'):
                t['crop_size'] = tuple(crop)
                changed.append(f'{kind}.crop_size={tuple(crop)}')
            elif kind in ('Resize', 'RandomResize') and t.get('scale') is not None:
                # the long side free, the short one a few crops (keep_ratio resizes)
                short = 2 * max(crop) if train else 4 * max(crop)
                t['scale'] = (8 * short, short)
                changed.append(f'{kind}.scale={t["scale"]}')
    return changed


def amp_available() -> bool:
    """Whether mmengine's ``AmpOptimWrapper`` can be built here: mmengine 0.10.7
    asserts a CUDA, NPU, MLU or MUSA device (no CPU autocast)."""
    return (is_cuda_available() or is_npu_available() or is_mlu_available()
            or is_musa_available())


def disable_amp(optim_wrapper) -> bool:
    """An ``AmpOptimWrapper`` config made a plain ``OptimWrapper`` (the same
    optimizer and parameter groups, no autocast, no loss scale), in place."""
    if not isinstance(optim_wrapper, dict) or \
            str(optim_wrapper.get('type', '')).split('.')[-1] != 'AmpOptimWrapper':
        return False
    optim_wrapper['type'] = 'OptimWrapper'
    for key in ('loss_scale', 'dtype', 'use_fsdp'):
        optim_wrapper.pop(key, None)
    return True


def make_smoke_config(cfg, iters: int = SMOKE_ITERS, crop: Tuple[int, int] = SMOKE_CROP,
                      batch_size: int = SMOKE_BATCH,
                      val_images: int = SMOKE_VAL_IMAGES) -> List[str]:
    """Shrink ``cfg`` in place for a smoke run; returns one phrase per change.

    - ``iters`` iterations (``train_cfg``), validated once at the end on the
      first ``val_images`` images of the validation set; schedulers end there;
    - every crop (``RandomCrop.crop_size``, ``model.data_preprocessor.size``)
      ``crop``, and the ``Resize`` / ``RandomResize`` scales of the pipelines a
      few times that (the config's ``crop_size`` variable was substituted when
      it loaded, so these are the keys that set the crop);
    - ``batch_size`` images per batch, no loader worker processes;
    - SyncBN as BN (SyncBN needs CUDA and a launcher);
    - mixed precision (``AmpOptimWrapper``) as a plain ``OptimWrapper`` where
      there is no GPU (:func:`amp_available`);
    - no pretrained weights (``model.pretrained``, ``init_cfg`` of type
      ``Pretrained``): no download; the network starts from its default init;
    - one checkpoint, at the end, of the weights only: enough for
      ``tools/test.py``, while the optimizer's state (AdamW: twice the
      weights) made a K-Net Swin-L smoke checkpoint 2.96 GB;
    - a log line per iteration.

    ``tools/train.py`` merges ``--cfg-options`` after this: what the user set
    wins over these values.
    """
    done = []
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=iters, val_interval=iters)
    done.append(f'{iters} iterations')
    scheds = cfg.get('param_scheduler') or []
    scheds = [scheds] if isinstance(scheds, dict) else list(scheds)
    kept = []
    for s in scheds:
        if s.get('begin', 0) >= iters:
            continue
        s = dict(s, by_epoch=False)
        s['end'] = min(s.get('end', iters), iters)
        kept.append(s)
    cfg.param_scheduler = kept or None
    model = cfg.get('model', {})
    pre = model.get('data_preprocessor')
    if isinstance(pre, dict) and pre.get('size') is not None:
        pre['size'] = tuple(crop)
    n_bn = sync_bn_to_bn(cfg)
    if n_bn:
        done.append(f'{n_bn} SyncBN as BN')
    if not amp_available() and disable_amp(cfg.get('optim_wrapper')):
        done.append('AmpOptimWrapper as OptimWrapper (AMP needs a GPU)')
    for where, node in list(_walk(model, 'model')):
        if isinstance(node.get('pretrained'), str):
            node['pretrained'] = None
            done.append(f'{where}.pretrained=None')
        init = node.get('init_cfg')
        if isinstance(init, dict) and init.get('type') == 'Pretrained':
            node['init_cfg'] = None
            done.append(f'{where}.init_cfg=None')
    if cfg.get('load_from'):
        cfg.load_from = None
        done.append('load_from=None')
    for section, train in (('train_dataloader', True), ('val_dataloader', False),
                           ('test_dataloader', False)):
        loader = cfg.get(section)
        if not loader:
            continue
        loader.update(batch_size=batch_size if train else 1, num_workers=0,
                      persistent_workers=False)
        for where, ds in _walk(loader.get('dataset', {}), f'{section}.dataset'):
            if 'pipeline' in ds:
                changed = _shrink_pipeline(ds['pipeline'], crop, train)
                if train and changed:
                    done.append(f'{section}: ' + ', '.join(dict.fromkeys(changed)))
                if not train:
                    ds['indices'] = val_images
        if not train and section == 'val_dataloader':
            done.append(f'validation on {val_images} images')
    done.append(f'batch {batch_size}, crop {tuple(crop)}, no loader workers')
    hooks = cfg.get('default_hooks')
    if hooks:
        if hooks.get('checkpoint'):
            hooks.checkpoint.update(interval=iters, save_optimizer=False,
                                    save_param_scheduler=False)
            done.append('a checkpoint of the weights at the end')
        if hooks.get('logger'):
            hooks.logger.update(interval=1)
    return done
