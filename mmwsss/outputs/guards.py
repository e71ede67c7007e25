"""Output guards: a folder's ``meta.json`` against the settings of a rerun, and no
output among the inputs of any split of a config.

A tool writes into an output folder whose ``meta.json`` records the settings the
files were made with. A rerun with the same settings resumes (files already there
are kept); a rerun with other settings stops unless ``force`` is given.
"""
import json
import os
import os.path as osp
from typing import Dict, Optional, Sequence

from mmwsss.fileio.atomic import atomic_write


def _jsonable(obj):
    return json.loads(json.dumps(obj, default=str))


def guard_output_dir(out_dir: str, settings: dict, force: bool = False,
                     extra: Optional[dict] = None, write: bool = True) -> None:
    """Check ``out_dir/meta.json`` against ``settings`` and (re)write it.

    Args:
        out_dir (str): the tool's output folder (created when missing).
        settings (dict): everything the outputs depend on (json-serialisable).
        force (bool): rewrite ``meta.json`` even when the settings differ.
        extra (dict, optional): recorded beside the settings, not compared
            (the config path, the number of images).
        write (bool): write ``meta.json`` (False on non-zero ranks).

    Raises:
        SystemExit: the folder holds outputs made with other settings.
    """
    os.makedirs(out_dir, exist_ok=True)
    meta_path = osp.join(out_dir, 'meta.json')
    settings = _jsonable(settings)
    if osp.isfile(meta_path) and not force:
        try:
            with open(meta_path, encoding='utf-8') as f:
                old = json.load(f)
        except (ValueError, UnicodeDecodeError) as e:
            raise SystemExit(f'{meta_path}: not valid JSON ({e}); it records the settings of '
                             'the outputs beside it: restore it, or use --force to rewrite '
                             'them all') from None
        if not isinstance(old, dict):
            raise SystemExit(f'{meta_path}: a JSON {type(old).__name__}, not the object of '
                             'settings this tool writes; restore it, or use --force to '
                             'rewrite the outputs')
        if old.get('settings') != settings:
            raise SystemExit(f'{out_dir} holds outputs made with other settings '
                             f'({old.get("settings")}, now {settings}); use another '
                             'output folder or --force to rewrite it')
    if write:
        data = json.dumps(dict(_jsonable(extra or {}), settings=settings), indent=2).encode()
        atomic_write(meta_path, lambda f: f.write(data))


_MAP_KEYS = ('cam_path', 'sal_path')
_INPUT_NAMES = dict(img_path='image', seg_map_path='GT label map', sal_path='saliency map',
                    cam_path='CAM store')


def dataset_input_dirs(dataset, skip: Sequence[str] = ()) -> Dict[str, str]:
    """The folders a built dataset reads (its ``data_prefix``: images, GT label
    maps, saliency maps, CAM store; not the keys in ``skip``), named for
    messages; wrappers (``RepeatDataset``, ``ConcatDataset``) are unwrapped."""
    found = {}
    inner = getattr(dataset, 'datasets', None) or [getattr(dataset, 'dataset', None)]
    for d in inner:
        if d is not None and d is not dataset:
            found.update(dataset_input_dirs(d, skip))
    for key, folder in (getattr(dataset, 'data_prefix', None) or {}).items():
        if isinstance(folder, str) and folder and key not in skip:
            found[f'{_INPUT_NAMES.get(key, key)} folder ({key})'] = folder
    return found


def config_input_dirs(dataset_cfg, skip: Sequence[str] = ()) -> Dict[str, str]:
    """The folders a dataset config reads (``data_root``, or ``maps_root`` for
    the maps, joined with each ``data_prefix`` entry but the keys in
    ``skip``), before it is built; wrappers are unwrapped."""
    found = {}
    inner = dataset_cfg.get('datasets') or [dataset_cfg.get('dataset')]
    for d in inner if isinstance(inner, (list, tuple)) else [inner]:
        if isinstance(d, dict):
            found.update(config_input_dirs(d, skip))
    root = dataset_cfg.get('data_root') or ''
    # a WSSS dataset joins its maps to maps_root when it has one
    maps_root = dataset_cfg.get('maps_root')
    prefix = dataset_cfg.get('data_prefix')
    if prefix is None:  # the class's default (VOCWSSSDataset: JPEGImages, ...)
        prefix = _default_data_prefix(dataset_cfg.get('type'))
    for key, folder in (prefix or {}).items():
        if isinstance(folder, str) and folder and key not in skip:
            base = maps_root if maps_root is not None and key in _MAP_KEYS else root
            found[f'{_INPUT_NAMES.get(key, key)} folder ({key})'] = osp.join(base, folder)
    return found


def all_config_input_dirs(cfg, skip: Sequence[str] = ()) -> Dict[str, str]:
    """The folders every split of a config reads (each ``*_dataloader``'s
    dataset: train, val, test and the CAM split alike, see
    :func:`config_input_dirs`; not the ``data_prefix`` keys in ``skip``), each
    named with its split, so that an output is kept away from all of them, not
    only from the split a tool reads."""
    found = {}
    for key in cfg.keys():
        loader = cfg.get(key)
        if str(key).endswith('_dataloader') and isinstance(loader, dict) and \
                isinstance(loader.get('dataset'), dict):
            for what, folder in config_input_dirs(loader['dataset'], skip).items():
                found[f'{what} of {key}'] = folder
    return found


def _default_data_prefix(type_name) -> Optional[dict]:
    import inspect
    from mmseg.registry import DATASETS
    try:
        cls = DATASETS.get(type_name) if isinstance(type_name, str) else type_name
        param = inspect.signature(cls.__init__).parameters.get('data_prefix')
    except Exception:  # noqa: BLE001  (an unknown type: the Runner names it later)
        return None
    default = getattr(param, 'default', None)
    return default if isinstance(default, dict) else None


def check_outside_inputs(out_dir: str, inputs: Dict[str, Optional[str]],
                         flag: str = '--out-dir') -> None:
    """Refuse an output folder that is an input folder or lies inside one.

    A tool's outputs share names with inputs (``<img_id>.png`` is a pseudo
    label, a saliency map and a GT mask; ``meta.json`` is every tool's), and
    ``--force`` removes files it does not list: written into an input folder
    they would replace or delete the inputs. Remote paths (``s3://``...) are
    not checked.

    Args:
        out_dir (str): the output folder.
        inputs (dict): ``{what it is: folder}``; None values are skipped.
        flag (str): the option that named ``out_dir``, for the message.

    Raises:
        SystemExit: naming the output and the input folder.
    """
    out = osp.realpath(out_dir)
    for what, folder in inputs.items():
        if not folder or '://' in str(folder):
            continue
        src = osp.realpath(folder)
        if out == src or out.startswith(src.rstrip(os.sep) + os.sep):
            where = 'is' if out == src else 'lies inside'
            raise SystemExit(f'{flag} {out_dir} {where} the {what} {folder}: the outputs '
                             'would be written over or among the inputs; choose a folder '
                             'outside it')


def refuse_launcher(tool: str) -> None:
    """Stop a one-process tool started by a launcher (``torchrun``, Slurm's
    ``srun`` with ``WORLD_SIZE``): every rank would run the whole job into the
    same folder, and all but one would be refused by its lock halfway."""
    world = os.environ.get('WORLD_SIZE', '1')
    if world.isdigit() and int(world) > 1:
        raise SystemExit(f'{tool} runs in one process (its --nproc N gives it N workers); it '
                         f'was started as one of {world} ranks of a launcher: start it once, '
                         'without torchrun')
