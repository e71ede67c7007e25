"""Loading a config as every mmwsss tool does: renamed configs, checked
``--cfg-options`` (with ``dict(...)`` values), and the τ sweep's result as the
pseudo-label source."""
import functools
import inspect
import json
import logging
import os
import os.path as osp
import re
from typing import Any, Callable, List, Optional, Tuple

from mmengine.config import Config
from mmengine.config import DictAction as _MMEngineDictAction
from mmengine.logging import print_log

from mmwsss.config.checks import find_pseudo_label_step
from mmwsss.errors import WSSSConfigError

# Configs renamed to mmseg's scheme {algo}_{backbone}_{gpus}xb{batch}-{iters}_{data}-{crop}
# (+ _{cam}-{saliency} for the pseudo-label source): old name -> new name.
CONFIG_ALIASES = {
    'eps/eps_resnet38_coco14.py':
        'eps/eps_resnet38_1xb16-100k_coco14-321x321.py',
    'eps/eps_resnet38_voc12.py':
        'eps/eps_resnet38_1xb8-20k_voc12aug-448x448.py',
    'eps/ird_r101-d8_voc12.py':
        'eps/ird_r101-d8_1xb8-20k_voc12aug-448x448.py',
    'eps/ird_resnet38_coco14.py':
        'eps/ird_resnet38_1xb16-100k_coco14-321x321.py',
    'eps/ird_resnet38_voc12.py':
        'eps/ird_resnet38_1xb8-20k_voc12aug-448x448.py',
    'wsss/coco14/deeplabv2_r101_cam_vst.py':
        'wsss/coco14/deeplabv2_r101-d8_4xb5-50k_coco14-321x321_cam-vst.py',
    'wsss/coco14/deeplabv2_r101_eps_vst.py':
        'wsss/coco14/deeplabv2_r101-d8_4xb5-50k_coco14-321x321_eps-vst.py',
    'wsss/coco14/deeplabv3plus_r101_cam_vst.py':
        'wsss/coco14/deeplabv3plus_r101-d8_4xb4-80k_coco14-512x512_cam-vst.py',
    'wsss/coco14/deeplabv3plus_r101_eps_vst.py':
        'wsss/coco14/deeplabv3plus_r101-d8_4xb4-80k_coco14-512x512_eps-vst.py',
    'wsss/coco14/knet_swinl_cam_vst.py':
        'wsss/coco14/knet-s3_swin-l_upernet_8xb2-adamw-80k_coco14-512x512_cam-vst.py',
    'wsss/coco14/knet_swinl_eps_vst.py':
        'wsss/coco14/knet-s3_swin-l_upernet_8xb2-adamw-80k_coco14-512x512_eps-vst.py',
    'wsss/coco14/segformer_mitb5_cam_vst.py':
        'wsss/coco14/segformer_mit-b5_8xb2-80k_coco14-512x512_cam-vst.py',
    'wsss/coco14/segformer_mitb5_eps_vst.py':
        'wsss/coco14/segformer_mit-b5_8xb2-80k_coco14-512x512_eps-vst.py',
    'wsss/deeplabv2_r101_cam_move.py':
        'wsss/deeplabv2_r101-d8_2xb10-10k_voc12aug-321x321_cam-move.py',
    'wsss/deeplabv2_r101_cam_poolnet.py':
        'wsss/deeplabv2_r101-d8_2xb10-10k_voc12aug-321x321_cam-poolnet.py',
    'wsss/deeplabv2_r101_cam_vst.py':
        'wsss/deeplabv2_r101-d8_2xb10-10k_voc12aug-321x321_cam-vst.py',
    'wsss/deeplabv2_r101_eps_move.py':
        'wsss/deeplabv2_r101-d8_2xb10-10k_voc12aug-321x321_eps-move.py',
    'wsss/deeplabv2_r101_eps_poolnet.py':
        'wsss/deeplabv2_r101-d8_2xb10-10k_voc12aug-321x321_eps-poolnet.py',
    'wsss/deeplabv2_r101_eps_vst.py':
        'wsss/deeplabv2_r101-d8_2xb10-10k_voc12aug-321x321_eps-vst.py',
    'wsss/deeplabv3plus_r101_cam_move.py':
        'wsss/deeplabv3plus_r101-d8_4xb4-40k_voc12aug-512x512_cam-move.py',
    'wsss/deeplabv3plus_r101_cam_poolnet.py':
        'wsss/deeplabv3plus_r101-d8_4xb4-40k_voc12aug-512x512_cam-poolnet.py',
    'wsss/deeplabv3plus_r101_cam_vst.py':
        'wsss/deeplabv3plus_r101-d8_4xb4-40k_voc12aug-512x512_cam-vst.py',
    'wsss/deeplabv3plus_r101_eps_move.py':
        'wsss/deeplabv3plus_r101-d8_4xb4-40k_voc12aug-512x512_eps-move.py',
    'wsss/deeplabv3plus_r101_eps_poolnet.py':
        'wsss/deeplabv3plus_r101-d8_4xb4-40k_voc12aug-512x512_eps-poolnet.py',
    'wsss/deeplabv3plus_r101_eps_vst.py':
        'wsss/deeplabv3plus_r101-d8_4xb4-40k_voc12aug-512x512_eps-vst.py',
    'wsss/knet_swinl_cam_move.py':
        'wsss/knet-s3_swin-l_upernet_8xb2-adamw-40k_voc12aug-512x512_cam-move.py',
    'wsss/knet_swinl_cam_poolnet.py':
        'wsss/knet-s3_swin-l_upernet_8xb2-adamw-40k_voc12aug-512x512_cam-poolnet.py',
    'wsss/knet_swinl_cam_vst-coco20.py':
        'wsss/knet-s3_swin-l_upernet_8xb2-adamw-40k_voc12aug-512x512_cam-vst-coco20.py',
    'wsss/knet_swinl_cam_vst.py':
        'wsss/knet-s3_swin-l_upernet_8xb2-adamw-40k_voc12aug-512x512_cam-vst.py',
    'wsss/knet_swinl_eps_move.py':
        'wsss/knet-s3_swin-l_upernet_8xb2-adamw-40k_voc12aug-512x512_eps-move.py',
    'wsss/knet_swinl_eps_poolnet.py':
        'wsss/knet-s3_swin-l_upernet_8xb2-adamw-40k_voc12aug-512x512_eps-poolnet.py',
    'wsss/knet_swinl_eps_vst-coco20.py':
        'wsss/knet-s3_swin-l_upernet_8xb2-adamw-40k_voc12aug-512x512_eps-vst-coco20.py',
    'wsss/knet_swinl_eps_vst.py':
        'wsss/knet-s3_swin-l_upernet_8xb2-adamw-40k_voc12aug-512x512_eps-vst.py',
    'wsss/segformer_mitb5_cam_move.py':
        'wsss/segformer_mit-b5_8xb2-40k_voc12aug-512x512_cam-move.py',
    'wsss/segformer_mitb5_cam_poolnet.py':
        'wsss/segformer_mit-b5_8xb2-40k_voc12aug-512x512_cam-poolnet.py',
    'wsss/segformer_mitb5_cam_vst.py':
        'wsss/segformer_mit-b5_8xb2-40k_voc12aug-512x512_cam-vst.py',
    'wsss/segformer_mitb5_eps_move.py':
        'wsss/segformer_mit-b5_8xb2-40k_voc12aug-512x512_eps-move.py',
    'wsss/segformer_mitb5_eps_poolnet.py':
        'wsss/segformer_mit-b5_8xb2-40k_voc12aug-512x512_eps-poolnet.py',
    'wsss/segformer_mitb5_eps_vst.py':
        'wsss/segformer_mit-b5_8xb2-40k_voc12aug-512x512_eps-vst.py',
}


def _split_top_level(text: str) -> List[str]:
    """``text`` split at the commas outside every bracket."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(text):
        depth += char in '(['
        depth -= char in ')]'
        if char == ',' and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p for p in parts if p]


def _closes_at_end(text: str, open_at: int) -> bool:
    """Whether the bracket opened at ``text[open_at]`` closes at the last character."""
    depth = 0
    for i in range(open_at, len(text)):
        depth += text[i] in '(['
        depth -= text[i] in ')]'
        if depth == 0:
            return i == len(text) - 1
    return False


def parse_option_value(val: str):
    """A ``--cfg-options`` value as mmengine's ``DictAction`` parses it (numbers,
    booleans, ``None``, ``[a,b]`` lists, ``(a,b)`` tuples, nested; quotes and
    spaces dropped), plus ``dict(key=value,...)`` at any depth, as a config file
    writes it: ``visualizer.vis_backends="[dict(type='LocalVisBackend'),
    dict(type='TensorboardVisBackend')]"``. mmengine 0.10.7 keeps such an element
    as the string ``"dict(type='LocalVisBackend')"``, which fails only when the
    Runner builds it.

    Raises:
        WSSSConfigError: for unbalanced brackets or a ``dict(...)`` item that is
            not ``key=value``.
    """
    val = val.strip('\'"').replace(' ', '')
    if val.count('(') != val.count(')') or val.count('[') != val.count(']'):
        raise WSSSConfigError(f'--cfg-options: unbalanced brackets in {val!r}')
    if val.startswith('dict(') and _closes_at_end(val, 4):
        out = {}
        for item in _split_top_level(val[5:-1]):
            key, eq, value = item.partition('=')
            if not eq or not key.isidentifier():
                raise WSSSConfigError(f'--cfg-options: {item!r} in {val!r} is not key=value '
                                      "(write dict(type='LocalVisBackend'), as in a config)")
            out[key] = parse_option_value(value)
        return out
    if val[:1] in '([' and _closes_at_end(val, 0):
        items = [parse_option_value(v) for v in _split_top_level(val[1:-1])]
        return tuple(items) if val[0] == '(' else items
    if ',' in val:  # key=a,b as mmengine: a list
        return [parse_option_value(v) for v in _split_top_level(val)]
    return _MMEngineDictAction._parse_int_float_bool(val)


class DictAction(_MMEngineDictAction):
    """mmengine's ``DictAction`` for ``--cfg-options``, whose values may also hold
    ``dict(...)`` as a config file writes it (:func:`parse_option_value`)."""

    @staticmethod
    def _parse_iterable(val: str):
        return parse_option_value(val)


# Top-level keys read after loading by mmengine's Runner (``runner_keys()``: what
# ``Runner.from_cfg`` passes on and what the Runner reads from ``self.cfg``, taken
# from mmengine's own source) or by our tools. Any other top-level key is a variable
# the config used while it was loaded (``data_root``, ``crop_size``,
# ``train_pipeline``): changing it later does nothing.
TOOL_KEYS = frozenset([
    'launcher', 'custom_imports', 'runner_type', 'tta_model', 'tta_pipeline', 'cam_dataloader',
    'strategy', 'eval_protocol'
])
# Keys whose config follows the config's own structure: below them a missing dict
# is a typo (``train_dataloader.datset``). Below any other key (``env_cfg``,
# ``randomness``, ``auto_scale_lr``, ...) the Runner reads settings with defaults,
# so a key the config does not write yet is fine (``randomness.seed=1``).
STRUCTURED_KEYS = frozenset([
    'model', 'train_dataloader', 'val_dataloader', 'test_dataloader', 'cam_dataloader',
    'train_cfg', 'val_cfg', 'test_cfg', 'optim_wrapper', 'param_scheduler', 'val_evaluator',
    'test_evaluator', 'default_hooks', 'custom_hooks', 'data_preprocessor', 'visualizer',
    'tta_model', 'tta_pipeline', 'log_processor'
])


@functools.lru_cache(maxsize=None)
def runner_keys() -> frozenset:
    """The top-level config keys mmengine's Runner reads, from its source.

    ``Runner.from_cfg`` passes ``cfg.get('x')`` / ``cfg['x']`` to ``__init__``,
    and the Runner reads a few more later through ``self.cfg.get('x')``
    (``find_unused_parameters``, ``model_wrapper_cfg``, ``sync_bn``,
    ``compile``, ...). Reading the source keeps the list right for the
    installed mmengine rather than for the one this was written against.
    """
    from mmengine.runner import Runner
    src = inspect.getsource(Runner)
    keys = set(re.findall(r"\bcfg(?:\.get\(|\[)\s*'(\w+)'", src))
    keys.discard('type')
    return frozenset(keys)


def runtime_keys() -> frozenset:
    """Top-level keys that are read after the config is loaded."""
    return runner_keys() | TOOL_KEYS


def resolve_config_path(path: str) -> str:
    """``path``, or its new name when it names a renamed config.

    The rename is logged as a warning through mmengine's logger (by rank 0 of a
    distributed job): a ``DeprecationWarning`` raised here, inside the library,
    would be hidden by Python's default filters.
    """
    if osp.isfile(path):
        return path
    norm = path.replace('\\', '/')
    for old, new in CONFIG_ALIASES.items():
        if norm.endswith(old):
            new_path = norm[:-len(old)] + new
            if osp.isfile(new_path):
                if os.environ.get('RANK', '0') == '0':  # once per job, not per rank
                    print_log(f'config {path} was renamed to {new_path}; please use the new '
                              'name (the old one keeps working)', logger='current',
                              level=logging.WARNING)
                return new_path
    raise FileNotFoundError(f'config file {path} not found')


# the registries whose classes a ``type=`` in a config names
_REGISTRIES = ('MODELS', 'HOOKS', 'DATASETS', 'TRANSFORMS', 'DATA_SAMPLERS', 'OPTIM_WRAPPERS',
               'OPTIMIZERS', 'PARAM_SCHEDULERS', 'METRICS', 'EVALUATOR', 'LOOPS', 'VISUALIZERS',
               'VISBACKENDS', 'LOG_PROCESSORS', 'OPTIM_WRAPPER_CONSTRUCTORS')


def _init_args(type_name: str) -> Optional[Tuple[set, bool]]:
    """The named ``__init__`` arguments of a registered class and its bases (a
    subclass often passes ``**kwargs`` on to its base), and whether the class
    takes ``**kwargs``; None if no registry has it."""
    from mmseg import registry
    for name in _REGISTRIES:
        try:
            cls = getattr(registry, name).get(type_name)
        except Exception:  # noqa: BLE001  (a registry that cannot import: not this one)
            cls = None
        if not inspect.isclass(cls):
            continue
        args, var_kw = set(), True
        for i, klass in enumerate(cls.__mro__):
            init = klass.__dict__.get('__init__')
            if init is None:
                continue
            try:
                params = inspect.signature(init).parameters
            except (TypeError, ValueError):
                continue
            if not args:  # the class's own __init__
                var_kw = any(p.kind == p.VAR_KEYWORD for p in params.values())
            args |= {n for n, p in params.items()
                     if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}
        return args - {'self'}, var_kw
    return None


def _mistyped_argument(node: dict, leaf: str, parent: str = '') -> Optional[str]:
    """Why ``leaf`` is not an argument of the class ``node['type']`` names, or None.

    A new key below a ``type=`` dict is refused when the class takes no such
    argument and no ``**kwargs``, or when it is a near miss of one of the
    class's arguments (``max_keep_ckpt`` for ``max_keep_ckpts``): classes that
    take ``**kwargs`` would accept it here and fail later (mmengine's
    CheckpointHook at the first save). A key far from every argument of a
    class with ``**kwargs`` is left to the class.
    """
    if not isinstance(node, dict) or leaf in node:
        return None
    # a WSSS dataset's pseudo_label_cfg is the SaliencyPseudoLabel step, type left out
    type_name = node.get('type', 'SaliencyPseudoLabel' if parent == 'pseudo_label_cfg' else None)
    if not isinstance(type_name, str):
        return None
    return unknown_argument(type_name, leaf)


def unknown_argument(type_name: str, leaf: str) -> Optional[str]:
    """Why ``leaf`` is not an argument of the registered class ``type_name``
    (no such argument and no ``**kwargs``, or a near miss of one of its
    arguments), or None (an argument, or left to a class with ``**kwargs``;
    a class no registry has)."""
    import difflib
    found = _init_args(type_name.split('.')[-1])
    if not found or leaf in found[0]:
        return None
    args, var_kw = found
    close = difflib.get_close_matches(leaf, sorted(args), n=1, cutoff=0.8 if var_kw else 0.6)
    if close:
        return f"{type_name} takes no argument '{leaf}'; did you mean '{close[0]}'?"
    if not var_kw:
        return f"{type_name} takes no argument '{leaf}' (it takes {', '.join(sorted(args))})"
    return None


def _where_read(cfg: Config, name: str) -> List[str]:
    """The config keys whose last part is ``name`` (where a load-time variable
    ended up), plus the data preprocessor's size for ``crop_size``."""
    from mmwsss.config.checks import _walk
    found = []
    for top in ('model', 'train_dataloader', 'val_dataloader', 'test_dataloader'):
        if top in cfg:
            found += [f'{w}.{name}' for w, d in _walk(cfg[top], top) if name in d]
    if name == 'crop_size':
        found += [f'{w}.size' for w, d in _walk(cfg.get('model', {}), 'model')
                  if w.endswith('data_preprocessor') and 'size' in d]
    return found


def _unknown_untyped_key(cfg: Config, parts: List[str]) -> Optional[str]:
    """Why the last of ``parts`` is no key of its dict when that dict is one of
    :func:`~mmwsss.config.checks.known_keys` (``randomness.sed``), or None.
    A dict the config lacks is an empty one (the option creates it)."""
    from mmwsss.config.checks import unknown_key
    if len(parts) < 2:
        return None
    node, parent = cfg, None
    for part in parts[:-1]:
        try:
            parent, node = node, (node[int(part)] if isinstance(node, (list, tuple))
                                  else node[part])
        except (KeyError, IndexError, ValueError, TypeError):
            parent, node = node, {}
    if not isinstance(parent, dict) or parts[-2] != 'data_prefix' and len(parts) > 2:
        parent = None
    return unknown_key('.'.join(parts[:-1]), parts[-1], node, parent)


def check_cfg_options(cfg: Config, options: dict) -> None:
    """Refuse ``--cfg-options`` keys that the config never reads.

    A key must be a runtime key (see :func:`runtime_keys`) or below one:
    ``data_root=...`` or ``crop_size=...`` would be silently ignored, since
    such variables are substituted while the config loads; the error names the
    keys where the value is read instead. Below a key of ``STRUCTURED_KEYS``
    the parent must exist in the config, and a new argument of a ``type=``
    dict must not be a near miss of one of the class's arguments.
    """
    bad = []
    keys = runtime_keys()
    for key in options:
        parts = key.split('.')
        if parts[0] not in keys:
            if parts[0] in cfg:
                where = _where_read(cfg, parts[0])
                hint = 'it is a variable used while the config was loaded, so changing it ' \
                    'now changes nothing' + (f'; it is read at {", ".join(where[:6])}'
                                             if where else '')
            else:
                hint = 'the config has no such key'
            bad.append(f'{key}: {hint}')
            continue
        why = _unknown_untyped_key(cfg, parts)
        if why:
            bad.append(f'{key}: {why}')
            continue
        if parts[0] not in STRUCTURED_KEYS:
            continue
        node = cfg
        for i, part in enumerate(parts[:-1]):
            try:
                node = node[int(part)] if isinstance(node, (list, tuple)) else node[part]
            except (KeyError, IndexError, ValueError, TypeError):
                bad.append(f"{key}: the config has no '{'.'.join(parts[:i + 1])}'")
                node = None
                break
        why = _mistyped_argument(node, parts[-1], parts[-2]) if len(parts) > 1 else None
        if why:
            bad.append(f'{key}: {why}')
    if bad:
        raise WSSSConfigError('--cfg-options keys that the config never reads:\n  ' +
                         '\n  '.join(bad) + '\n(e.g. train_dataloader.dataset.data_root=..., '
                         'train_dataloader.dataset.maps_root=..., '
                         'train_dataloader.dataset.pseudo_label_cfg.tau=...)')


def _number_in(value, lo: float, hi: float) -> bool:
    """A real number (not a bool, not NaN) in [lo, hi]."""
    import math
    return isinstance(value, (int, float)) and not isinstance(value, bool) and \
        math.isfinite(value) and lo <= value <= hi


def read_sweep_result(best_json: str) -> dict:
    """A τ sweep's ``best.json`` (or its folder), every field training reads
    checked for presence and type.

    Raises:
        WSSSInputError: naming the file and what is wrong with it.
    """
    from mmwsss.errors import WSSSInputError
    from mmwsss.fileio import CAM_FORMATS
    from mmwsss.functional import MODES
    from mmwsss.functional.dense_crf import CRF_PRESETS
    if osp.isdir(best_json):
        best_json = osp.join(best_json, 'best.json')
    if not osp.isfile(best_json):
        raise WSSSInputError('τ sweep result not found', path=best_json)
    try:
        with open(best_json, encoding='utf-8') as f:
            best = json.load(f)
    except (ValueError, UnicodeDecodeError) as e:
        raise WSSSInputError(f'not valid JSON ({e}): tools/eval_pseudo_labels.py writes '
                             'best.json', path=best_json) from None
    if not isinstance(best, dict):
        raise WSSSInputError(f'not a τ sweep result (a JSON {type(best).__name__}, not an '
                             'object)', path=best_json)
    missing = [k for k in ('cam_dir', 'tau', 'mode') if k not in best]
    if missing:
        raise WSSSInputError(f'not a τ sweep result (no {missing})', path=best_json)
    bad = []
    if not isinstance(best['cam_dir'], str) or not best['cam_dir']:
        bad.append(f"cam_dir must be a folder path, got {best['cam_dir']!r}")
    if not _number_in(best['tau'], 0, 1):
        bad.append(f"tau must be a number in [0, 1], got {best['tau']!r}")
    held = best.get('held_out')
    if best.get('tau_selection') == 'held_out' and not isinstance(held, dict):
        bad.append('tau_selection is held_out but there is no held_out record')
    if best['mode'] not in MODES:
        bad.append(f"mode must be one of {list(MODES)}, got {best['mode']!r}")
    sal_dir = best.get('sal_dir')
    # a packed store's files hold the saliency maps: no folder to point at
    if best['mode'] == 'saliency' and best.get('cam_format') != 'packed' and \
            (not isinstance(sal_dir, str) or not sal_dir):
        bad.append(f"mode 'saliency' needs sal_dir, a folder path; got {sal_dir!r}")
    if best.get('cam_format') is not None and best['cam_format'] not in CAM_FORMATS:
        bad.append(f"cam_format must be one of {list(CAM_FORMATS)}, got {best['cam_format']!r}")
    if best.get('sal_threshold') is not None and not _number_in(best['sal_threshold'], 0, 1):
        bad.append(f"sal_threshold must be a number in [0, 1], got {best['sal_threshold']!r}")
    if best.get('ignore_unassigned') is not None and \
            not isinstance(best['ignore_unassigned'], bool):
        bad.append(f"ignore_unassigned must be true or false, got {best['ignore_unassigned']!r}")
    crf = best.get('crf')
    if crf is not None and crf not in CRF_PRESETS:
        bad.append(f'crf must be null or one of {sorted(CRF_PRESETS)}, got {crf!r}')
    elif crf is not None and best['mode'] != 'no_saliency':
        bad.append(f"crf {crf!r} refines CAM-only labels, but mode is {best['mode']!r}")
    if bad:
        raise WSSSInputError('a damaged τ sweep result: ' + '; '.join(bad), path=best_json)
    return dict(best, _path=best_json)


def apply_sweep_result(cfg: Config, best_json: str) -> dict:
    """Point the training set's pseudo labels at a τ sweep's result.

    ``best_json`` is ``tools/eval_pseudo_labels.py``'s ``best.json`` (or its
    folder), checked by :func:`read_sweep_result`: its CAM store, saliency
    folder, τ, mode, rule settings and DenseCRF preset (``crf``: the labels
    that were scored, refined; none when it records none) replace those of
    ``cfg.train_dataloader.dataset`` (through wrappers), so that training
    reads the labels the sweep scored. Logs one line saying what it applied.
    Returns the pseudo-label settings applied.
    """
    best = read_sweep_result(best_json)
    best_json = best.pop('_path')
    ds, _ = find_pseudo_label_step(cfg.train_dataloader.dataset)
    if 'pseudo_label_cfg' not in ds:
        raise WSSSConfigError('the training dataset has no pseudo_label_cfg (a WSSS dataset '
                         'with pseudo_labels=True) to apply the sweep result to')
    step = dict(tau=best['tau'], mode=best['mode'], crf=best.get('crf'))
    for key in ('cam_format', 'sal_threshold', 'ignore_unassigned'):
        if best.get(key) is not None:
            step[key] = best[key]
    # a packed store's files hold the saliency maps, which training reads (a
    # best.json of an older sweep may name the folder they were packed from)
    packed = best.get('cam_format') == 'packed'
    sal_dir = best.get('sal_dir') if best['mode'] != 'no_saliency' and not packed else None
    plc = ds.pseudo_label_cfg
    plc.update(step)
    # a folder set on the step overrides the dataset's: replace it too
    if plc.get('cam_dir') is not None:
        plc['cam_dir'] = best['cam_dir']
    if plc.get('sal_dir') is not None:
        plc['sal_dir'] = sal_dir
    ds.data_prefix['cam_path'] = best['cam_dir']  # absolute: maps_root is not joined
    ds.data_prefix['sal_path'] = sal_dir
    applied = dict(step, cam_dir=best['cam_dir'], sal_dir=sal_dir)
    if os.environ.get('RANK', '0') == '0':  # once per job, not per rank
        fmt = plc.get('cam_format', 'bed_png')
        sal = 'the packed files' if packed and best['mode'] == 'saliency' else sal_dir
        # best.json's tau is the held-out choice when the sweep had a tuning part
        how = {'held_out': 'chosen on the tuning part',
               'same_images': 'chosen and scored on the same images'}.get(
                   best.get('tau_selection'), 'chosen on the sweep\'s images')
        print_log(f"--pseudo-labels {best_json}: CAM store {best['cam_dir']} ({fmt}), "
                  f"saliency {sal or 'none'}, τ={best['tau']:g} ({how}), mode "
                  f"{best['mode']}, crf {best.get('crf') or 'none'}", logger='current',
                  level=logging.INFO)
    return applied


def load_config(path: str, cfg_options: Optional[dict] = None,
                pseudo_labels: Optional[str] = None,
                shrink: Optional[Callable[[Config], Any]] = None) -> Config:
    """Load a config as mmwsss's tools do.

    Args:
        path (str): config file (an old, renamed name works with a warning).
        cfg_options (dict, optional): ``--cfg-options``, checked by
            :func:`check_cfg_options` on the config as written and merged.
        pseudo_labels (str, optional): a τ sweep's ``best.json`` (or its folder)
            applied by :func:`apply_sweep_result`.
        shrink (callable, optional): changes the config in place before
            ``cfg_options`` is merged (``--smoke``, see
            :func:`mmwsss.config.smoke.make_smoke_config`): what the user set
            explicitly wins over it.
    """
    try:
        cfg = Config.fromfile(resolve_config_path(path))
    except FileNotFoundError as e:  # a renamed config named as a _base_
        norm = str(e).replace('\\', '/')
        for old, new in CONFIG_ALIASES.items():
            if old in norm:
                raise FileNotFoundError(f'{e} (loading {path}): {old} was renamed to {new}; '
                                        'name the new file in _base_') from None
        raise
    if cfg_options:
        check_cfg_options(cfg, cfg_options)
    if shrink is not None:
        shrink(cfg)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if pseudo_labels:
        apply_sweep_result(cfg, pseudo_labels)
    return cfg
