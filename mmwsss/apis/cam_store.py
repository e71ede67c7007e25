"""Writing a CAM store with mmengine's Runner (``tools/make_cams.py``, the demo)."""
import os
import os.path as osp
import pickle
import uuid
from dataclasses import dataclass
from typing import Optional, Sequence, Tuple

import torch
from mmengine.config import Config
from mmengine.dist import get_dist_info

from mmwsss.engine import QuietRunner
from mmwsss.engine.checkpoint import register_checkpoint_safe_globals
from mmwsss.fileio import cam_path
from mmwsss.fileio.png import check_upright
from mmwsss.outputs import all_config_input_dirs, check_outside_inputs, dataset_input_dirs, file_fingerprint, guard_output_dir, is_done, rank_zero_lock
from mmwsss.parallel import init_distributed


class _CAMRunner(QuietRunner):
    start_up_on_console = False  # make_cams' console: its progress and its result


def done(out_dir, img_id, classes, cam_format):
    if cam_format in ('npz', 'packed'):
        return is_done(cam_path(out_dir, img_id, cam_format))
    return all(is_done(cam_path(out_dir, img_id, 'bed_png', c)) for c in classes)


def load_weights(runner, checkpoint, trust=False):
    """Load the model weights strictly: a head for another dataset is an error."""
    if not osp.isfile(checkpoint):
        raise FileNotFoundError(f'checkpoint not found: {checkpoint!r}')
    try:
        if trust:
            from mmengine.runner.checkpoint import load_state_dict
            ckpt = torch.load(checkpoint, map_location='cpu', weights_only=False)
            model = runner.model.module if hasattr(runner.model, 'module') else runner.model
            load_state_dict(model, ckpt.get('state_dict', ckpt), strict=True)
        else:
            runner.load_checkpoint(checkpoint, map_location='cpu', strict=True)
    except pickle.UnpicklingError as e:
        raise ValueError(
            f'checkpoint {checkpoint!r} holds objects beyond weights and mmengine\'s own '
            '(e.g. the message hub of a Runner checkpoint written by an older mmwsss), '
            'which the safe loader refuses. If you trust the file (e.g. your own training '
            'run), pass --trust-checkpoint. torch says:\n' + str(e).strip()) from e
    except (ValueError, RuntimeError, KeyError) as e:
        raise ValueError(f'cannot load checkpoint {checkpoint!r}: {e}') from e


@dataclass(frozen=True)
class CAMSettings:
    """How the CAMs of a store are made and stored: what its ``meta.json``
    records (with the checkpoint), so that a resumed run writes the same maps.

    Args:
        cam_format (str): ``'npz'``, ``'bed_png'`` or ``'packed'`` (the uint8
            CAMs, and the saliency map of ``sal_dir`` when given, in one
            ``<img_id>.maps`` each, as ``tools/pack_maps.py`` writes them).
        dtype (str): npz CAM dtype.
        scales (Sequence[float], optional): inference scales (default the
            model's ``cam_scales``).
        flip (bool): add flipped inputs (False turns the model's
            ``cam_flip`` off).
        sal_dir (str, optional): ``packed``: the ``<img_id>.png`` saliency
            maps to pack beside the CAMs (without: CAMs only, for
            ``mode='no_saliency'``).
        compress (str, optional), level (int, optional): ``packed``: the
            codec (:func:`mmwsss.fileio.packed_maps.save_packed`).
    """
    cam_format: str = 'npz'
    dtype: str = 'uint8'
    scales: Optional[Sequence[float]] = None
    flip: bool = True
    sal_dir: Optional[str] = None
    compress: Optional[str] = None
    level: Optional[int] = None


def write_cam_store(cfg: Config, checkpoint: str, out_dir: str,
                    settings: Optional[CAMSettings] = None, force: bool = False,
                    trust_checkpoint: bool = False,
                    launcher: str = 'none') -> Tuple[Optional[int], int]:
    """Write the CAMs of ``cfg``'s classifier for its ``cam_dataloader`` split.

    A ``Runner.test()`` run whose metric is :class:`CAMStoreWriter`. Resumable:
    images whose CAMs are there are left out; ``out_dir/meta.json`` records the
    settings and a run with other settings stops unless ``force`` (a folder with
    no CAM yet takes any settings). The folder is locked (:func:`rank_zero_lock`)
    before ``meta.json`` is read or written, until the last CAM is written, with
    every launcher: a second run into it stops at once.

    Args:
        cfg (Config): the classifier config (``cfg.work_dir`` set).
        checkpoint (str): the trained weights, loaded strictly.
        out_dir (str): the CAM store folder.
        settings (CAMSettings, optional): format, dtype, scales and flips
            (default ``CAMSettings()``: npz, uint8, the model's scales and flips).
        force (bool): rewrite everything, also when the settings changed.
        trust_checkpoint (bool): unpickle the checkpoint fully.
        launcher (str): ``'none'`` or ``'pytorch'``.

    Returns:
        tuple: images written (None on ranks other than 0) and images kept.
    """
    import mmwsss  # noqa: F401  (registers everything, also without custom_imports)
    from mmseg.registry import DATASETS
    from mmseg.utils import register_all_modules
    register_all_modules(init_default_scope=True)
    register_checkpoint_safe_globals()
    if cfg.get('cam_dataloader') is None:
        raise ValueError(f'{cfg.filename}: no cam_dataloader entry (the split to write CAMs of)')
    cfg = cfg.copy()
    settings = CAMSettings() if settings is None else settings
    cam_format, dtype = settings.cam_format, settings.dtype
    sal_dir, compress, level = settings.sal_dir, settings.compress, settings.level
    if settings.scales:
        cfg.model.cam_scales = tuple(settings.scales)
    if not settings.flip:
        cfg.model.cam_flip = False
    if not osp.isfile(checkpoint):
        raise FileNotFoundError(f'checkpoint not found: {checkpoint!r}')
    # the checkpoint's size and mtime: another model saved at the same path is another store
    recorded = dict(checkpoint=file_fingerprint(checkpoint), cam_format=cam_format,
                    dtype=dtype, scales=list(cfg.model.get('cam_scales', [1.0])),
                    flip=cfg.model.get('cam_flip', True))
    if cam_format == 'packed':
        from mmwsss.fileio.packed_maps import (DEFAULT_LEVEL, VERSION, VERSION_COMPRESSED,
                                               check_codec)
        check_codec(compress, level)
        if compress is not None and level is None:
            level = DEFAULT_LEVEL[compress]
        if sal_dir is not None and not osp.isdir(sal_dir):
            raise FileNotFoundError(f'saliency folder (--sal-dir) not found: {sal_dir!r}')
        # as tools/pack_maps.py records them: the readers' saliency check reads sal_dir
        recorded.update(sal_dir=sal_dir and osp.abspath(sal_dir), compress=compress or 'none',
                        level=level, version=VERSION_COMPRESSED if compress else VERSION)
    elif sal_dir is not None or compress is not None:
        raise ValueError(f'--sal-dir and --compress apply to --cam-format packed, not '
                         f'{cam_format}')
    cfg.launcher = launcher
    init_distributed(cfg, launcher)  # the ranks hear rank 0's lock verdict over the group
    dataset = DATASETS.build(dict(cfg.cam_dataloader.dataset, pipeline=[]))
    # a bed_png CAM is <img_id>_<c>.png and meta.json is every tool's: never among the
    # images, GT or saliency maps the store is made from
    # (the store the config's pseudo labels read is this one: not an input here)
    # (nor among any other split's: val GT, training images)
    check_outside_inputs(out_dir, dict(dataset_input_dirs(dataset, skip=('cam_path', )),
                                       **all_config_input_dirs(cfg, skip=('cam_path', )),
                                       **{'saliency folder (--sal-dir)': sal_dir}))

    def check_settings():
        # a meta.json without a CAM (a first run that failed early) protects nothing
        guard_output_dir(out_dir, recorded, force or not _holds_cams(out_dir),
                         extra=dict(config=cfg.filename, num_images=len(dataset)))

    # one run per store: the lock first, then meta.json, held until the last CAM is
    # written (rank 0 holds it for the ranks of a DDP run)
    with rank_zero_lock(out_dir, check_settings):
        # resume: the images whose CAMs are all there are left out of the test split.
        # Every rank lists them before the Runner wraps the model in DDP, whose
        # constructor synchronises the ranks, so no rank has written anything yet.
        todo = []
        for i in range(len(dataset)):
            info = dataset.get_data_info(i)
            img_id = osp.splitext(osp.basename(info['img_path']))[0]
            # mmcv turns an EXIF-tagged image upright; the saliency maps and GT masks
            # that meet its CAMs later are in the file's stored frame
            check_upright(info['img_path'], img_id, 'the saliency maps and GT masks read '
                          'beside its CAMs')
            classes = [int(c) for c in info.get('cls_labels', [])]
            if force or not done(out_dir, img_id, classes, cam_format):
                todo.append(i)
        skipped = len(dataset) - len(todo)
        rank = get_dist_info()[0]
        if not todo:
            return (0 if rank == 0 else None), skipped

        cfg.test_dataloader = dict(cfg.cam_dataloader, batch_size=1,
                                   sampler=dict(type='DefaultSampler', shuffle=False),
                                   dataset=dict(cfg.cam_dataloader.dataset, indices=todo))
        cfg.test_evaluator = dict(type='CAMStoreWriter', out_dir=out_dir,
                                  cam_format=cam_format, dtype=dtype)
        if cam_format == 'packed':
            cfg.test_evaluator.update(sal_dir=sal_dir, compress=compress, level=level)
        cfg.test_cfg = dict(type='TestLoop')
        cfg.load_from = None  # loaded strictly below
        if cfg.get('visualizer'):
            # mmengine keeps one visualizer per name per process: a Runner built later in
            # the same process (the demo, tests) must not log into this run's folder
            cfg.visualizer.name = f'make_cams_{uuid.uuid4().hex[:8]}'
        runner = _CAMRunner.from_cfg(cfg)
        load_weights(runner, checkpoint, trust_checkpoint)
        metrics = runner.test()  # ends with the ranks' gather: rank 0 unlocks last
    return (int(metrics['cams/num_written']) if rank == 0 else None), skipped


def _holds_cams(out_dir: str) -> bool:
    """Whether the folder holds a CAM file of any image (temporary files aside)."""
    return osp.isdir(out_dir) and any(
        f.endswith(('.npz', '.png', '.npy', '.maps')) and not f.startswith('.')
        for f in os.listdir(out_dir))
