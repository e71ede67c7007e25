"""Checks on a config before any training starts."""
import os.path as osp
import re
from typing import Any, List, Optional, Tuple

from mmwsss.errors import WSSSConfigError

WRAPPERS = ('RepeatDataset', 'ConcatDataset', 'ClassBalancedDataset', 'MultiImageMixDataset')


def _walk(node: Any, where: str = ''):
    """Every dict of a config with its dotted key (``a.b.0.c``), depth first."""
    if isinstance(node, dict):
        yield where, node
        for k, v in node.items():
            yield from _walk(v, f'{where}.{k}' if where else str(k))
    elif isinstance(node, (list, tuple)):
        for i, v in enumerate(node):
            yield from _walk(v, f'{where}.{i}')


def _find_pseudo_label_transforms(node: Any, where: str) -> List[Tuple[str, dict]]:
    return [(w, d) for w, d in _walk(node, where)
            if isinstance(d.get('type'), str)
            and d['type'].split('.')[-1] == 'SaliencyPseudoLabel']


def _find_map_datasets(node: Any, where: str) -> List[Tuple[str, dict]]:
    """WSSS datasets that make pseudo labels from the maps their data_prefix names."""
    return [(w, d) for w, d in _walk(node, where)
            if d.get('pseudo_labels') and isinstance(d.get('data_prefix'), dict)
            and ('cam_path' in d['data_prefix'] or 'sal_path' in d['data_prefix'])]


def _dataset_map_dirs(ds: dict):
    """(key, folder) of the maps a WSSS dataset reads, as the dataset joins them."""
    root = ds.get('maps_root') if ds.get('maps_root') is not None else ds.get('data_root')
    plc = ds.get('pseudo_label_cfg') or {}
    # no saliency folder is read in no_saliency mode, nor from a packed store (its
    # files hold the saliency maps)
    no_sal = plc.get('mode', 'saliency') == 'no_saliency' or plc.get('cam_format') == 'packed'
    for key in ('cam_path', 'sal_path'):
        folder = ds['data_prefix'].get(key)
        if folder is None or (key == 'sal_path' and no_sal):
            continue
        if root and not osp.isabs(folder):
            folder = osp.join(root, folder)
        yield f'data_prefix.{key}', folder


def check_pseudo_label_dirs(cfg, sections=('train_dataloader', )) -> int:
    """Fail early when a pseudo-label source names a missing folder.

    Looks at every ``SaliencyPseudoLabel`` under ``sections`` of the config
    and checks that its ``cam_dir`` and (when set) ``sal_dir`` are existing
    directories, and likewise the ``data_prefix`` ``cam_path`` / ``sal_path``
    of every WSSS dataset there (joined to ``maps_root`` or ``data_root``), so
    that a typo in a WSSS-BED key fails at start, with the path, and not at
    the first sample of a long run.

    Returns:
        int: the number of transforms checked.

    Raises:
        FileNotFoundError: naming every missing folder and its config key.
    """
    missing, n = [], 0
    for section in sections:
        if section not in cfg:
            continue
        for where, t in _find_pseudo_label_transforms(cfg[section], section):
            n += 1
            for key in ('cam_dir', 'sal_dir'):
                path = t.get(key)
                if path is None:  # None: the dataset's data_prefix says where
                    continue
                if not osp.isdir(path):
                    missing.append(f'{where}.{key} = {path!r} '
                                   f'(absolute: {osp.abspath(str(path))})')
        for where, ds in _find_map_datasets(cfg[section], section):
            n += 1
            for key, path in _dataset_map_dirs(ds):
                if not osp.isdir(path):
                    missing.append(f'{where}.{key} = {path!r} '
                                   f'(absolute: {osp.abspath(path)})')
    if missing:
        raise FileNotFoundError('SaliencyPseudoLabel folder(s) not found:\n  ' +
                                '\n  '.join(missing))
    return n


def find_pseudo_label_step(dataset_cfg: dict) -> Tuple[dict, dict]:
    """Unwrap dataset wrappers; return (dataset cfg, SaliencyPseudoLabel cfg)."""
    while dataset_cfg.get('type') in WRAPPERS:
        inner = dataset_cfg.get('dataset') or dataset_cfg.get('datasets')
        dataset_cfg = inner[0] if isinstance(inner, (list, tuple)) else inner
    if dataset_cfg.get('pseudo_label_cfg') is not None:
        return dataset_cfg, dict(dataset_cfg['pseudo_label_cfg'])
    for step in dataset_cfg.get('pipeline', []):
        if step.get('type', '').split('.')[-1] == 'SaliencyPseudoLabel':
            return dataset_cfg, step
    raise WSSSConfigError('the training pipeline has no SaliencyPseudoLabel step')


def without_gt_subset(dataset_cfg: dict) -> Tuple[dict, Optional[List[str]]]:
    """A dataset config without its ``gt_subset``, and the ids of that subset.

    The pseudo-label tools (export, browse, τ sweep) judge the pseudo-label
    source, so they give every image its pseudo label, a semi-supervised set's
    ``gt_subset`` images (which train on their GT masks) included; they build
    the dataset from the returned config. The ids (None without a
    ``gt_subset``) let them say which images train on GT.

    Raises:
        WSSSInputError: the ``gt_subset`` list is missing or damaged.
    """
    subset = dataset_cfg.get('gt_subset')
    if not subset:
        return dataset_cfg, None
    from mmwsss.errors import WSSSInputError
    from mmwsss.fileio import read_id_list
    root = dataset_cfg.get('data_root')
    if root and not osp.isabs(subset):
        subset = osp.join(root, subset)
    if not osp.isfile(subset):
        raise WSSSInputError('gt_subset list file not found', path=subset)
    return dict(dataset_cfg, gt_subset=None), read_id_list(subset, 'gt_subset list file')


HEAD_IGNORE_INDEX = 255  # mmseg's BaseDecodeHead default


def _loss_heads(model: Any) -> List[Tuple[str, dict]]:
    """The decode and auxiliary heads of a model config, with their config keys
    (K-Net's ``IterativeDecodeHead`` takes ``num_classes`` and ``ignore_index``
    from its ``kernel_generate_head``, so that one stands for it)."""
    heads = []
    if not isinstance(model, dict):
        return heads
    for key in ('decode_head', 'auxiliary_head'):
        node = model.get(key)
        many = isinstance(node, (list, tuple))
        for i, head in enumerate(node if many else [node]):
            where = f'model.{key}.{i}' if many else f'model.{key}'
            while isinstance(head, dict) and isinstance(head.get('kernel_generate_head'), dict):
                head, where = head['kernel_generate_head'], f'{where}.kernel_generate_head'
            if isinstance(head, dict):
                heads.append((where, head))
    return heads


def _pseudo_label_steps(node: Any, where: str) -> List[Tuple[str, dict]]:
    """Every ``SaliencyPseudoLabel`` step: in a pipeline, or a WSSS dataset's
    ``pseudo_label_cfg`` (whose ``type`` may be left out)."""
    steps = _find_pseudo_label_transforms(node, where)
    seen = {id(d) for _, d in steps}
    for w, d in _walk(node, where):
        plc = d.get('pseudo_label_cfg')
        if d.get('pseudo_labels') and isinstance(plc, dict) and id(plc) not in seen:
            steps.append((f'{w}.pseudo_label_cfg', plc))
    return steps


def check_ignore_index(cfg, sections=('train_dataloader', )) -> None:
    """Refuse an ``ignore_index`` that is a class label or that the loss does not share.

    The ignore label of every ``SaliencyPseudoLabel`` (pipeline step or a WSSS
    dataset's ``pseudo_label_cfg``, default 255) and of every dataset under
    ``sections`` that sets one must equal the ``ignore_index`` of every
    decode / auxiliary head that computes a loss (mmseg's default 255), and
    must not be a label 0..num_classes - 1 of those heads: with 21 labels an
    ignore index of 15 would train its pixels as "person" (class 14), and one
    the heads do not share fails deep inside torch ("Target ... out of bounds").

    Raises:
        ValueError: naming every config key involved and its value.
    """
    steps, datasets = [], []
    for section in sections:
        if not cfg.get(section):
            continue
        steps += [(f'{w}.ignore_index', t.get('ignore_index', 255))
                  for w, t in _pseudo_label_steps(cfg[section], section)]
        # a dataset that sets its ignore_index (mmseg's BaseSegDataset argument)
        datasets += [(f'{w}.ignore_index', d['ignore_index'])
                     for w, d in _walk(cfg[section], section) if 'ignore_index' in d
                     and ('pipeline' in d or 'pseudo_labels' in d or 'data_prefix' in d)]
    if not steps:
        return
    heads = _loss_heads(cfg.get('model'))
    labels = [(f'{w}.ignore_index', d.get('ignore_index', HEAD_IGNORE_INDEX),
               f'{w}.num_classes', d.get('num_classes')) for w, d in heads]
    problems = []
    for key, value in steps:
        for _, _, ncls_key, ncls in labels:
            if isinstance(ncls, int) and isinstance(value, int) and 0 <= value < ncls:
                problems.append(f'{key} = {value} is a class label ({ncls_key} = {ncls}: '
                                f'labels 0..{ncls - 1}); the pixels it marks would train '
                                f'as label {value} (use 255)')
    values = steps + datasets + [(k, v) for k, v, _, _ in labels]
    if len({v for _, v in values}) > 1:
        problems.append('the ignore index must be one value for the pseudo labels, the '
                        'dataset and the loss, got ' +
                        ', '.join(f'{k} = {v}' for k, v in values))
    if problems:
        raise WSSSConfigError('ignore_index: ' + '; '.join(problems))


def check_label_overwrite(cfg, sections=('train_dataloader', )) -> None:
    """Refuse training labels that would silently be other than the pseudo labels:
    a pipeline where ``LoadAnnotations`` follows ``SaliencyPseudoLabel`` (mmseg's
    stock VOC pipeline with the transform inserted) replaces every pseudo label
    by the GT mask; and an ignore index that is a class label or differs from
    the loss's (:func:`check_ignore_index`)."""
    bad = []
    for section in sections:
        if not cfg.get(section):
            continue
        for where, node in _walk(cfg[section], section):
            pipeline = node.get('pipeline')
            if not isinstance(pipeline, (list, tuple)):
                continue
            names = [t.get('type', '').split('.')[-1] if isinstance(t, dict) else ''
                     for t in pipeline]
            if 'SaliencyPseudoLabel' in names and \
                    'LoadAnnotations' in names[names.index('SaliencyPseudoLabel'):]:
                bad.append(f'{where}.pipeline')
    if bad:
        raise WSSSConfigError('LoadAnnotations after SaliencyPseudoLabel replaces every pseudo '
                              'label by the GT mask; remove it from: ' + ', '.join(bad))
    check_ignore_index(cfg, sections)


# mmengine's logging backends (``visualizer.vis_backends``): what each imports when it
# starts, and the one command that installs it. mmengine imports it at the Runner's
# start, after printing the whole config, and its ImportError ends in a traceback.
VIS_BACKEND_NEEDS = {
    'TensorboardVisBackend': (('torch.utils.tensorboard', ), "pip install -e '.[tensorboard]'"),
    'WandbVisBackend': (('wandb', ), 'pip install wandb'),
    'MLflowVisBackend': (('mlflow', ), 'pip install mlflow'),
    'ClearMLVisBackend': (('clearml', ), 'pip install clearml'),
    'NeptuneVisBackend': (('neptune', ), 'pip install neptune'),
    'DVCLiveVisBackend': (('dvclive', 'pygit2'), 'pip install dvclive'),
    'AimVisBackend': (('aim', ), 'pip install aim'),
}


def check_vis_backends(cfg) -> None:
    """Every logging backend of ``cfg.visualizer.vis_backends`` can start here:
    each is a ``dict(type=...)`` and the package it imports is installed
    (:data:`VIS_BACKEND_NEEDS`; other backends are left to their class).

    Raises:
        WSSSConfigError: naming the backend and the command that installs it.
    """
    import importlib
    backends = (cfg.get('visualizer') or {}).get('vis_backends') or []
    if isinstance(backends, dict):
        backends = [backends]
    bad, commands = [], []
    for i, backend in enumerate(backends):
        if not isinstance(backend, dict):
            bad.append(f'visualizer.vis_backends.{i} is {backend!r}, not a dict: write '
                       "dict(type='TensorboardVisBackend')")
            continue
        kind = str(backend.get('type', '')).split('.')[-1]
        modules, command = VIS_BACKEND_NEEDS.get(kind, ((), None))
        for module in modules:
            try:
                importlib.import_module(module)
            except ImportError as e:
                bad.append(f'{kind} needs {module}, which does not import here ({e})')
                commands.append(command)
                break
    if bad:
        fix = f"; install it: {' && '.join(dict.fromkeys(commands))}" if commands else ''
        raise WSSSConfigError('visualizer.vis_backends: ' + '; '.join(bad) + fix)


def _checked_class(type_name: str):
    """The registered dataset or transform ``type_name`` names when it checks
    its own arguments (``check_args``: our transforms and datasets), else None."""
    from mmseg.registry import DATASETS, TRANSFORMS
    name = type_name.split('.')[-1]
    for registry in (TRANSFORMS, DATASETS):
        try:
            cls = registry.get(name)
        except Exception:  # noqa: BLE001  (a registry that cannot import: not ours)
            cls = None
        if cls is not None and callable(getattr(cls, 'check_args', None)):
            return cls
    return None


def _argument_problems(where: str, node: dict, type_name: str) -> List[str]:
    """Problems with the arguments a config gives one of our transforms or
    datasets: an argument it does not take (a misspelled name), and any value
    its ``check_args`` refuses (the check its ``__init__`` makes), each one
    line naming the config key."""
    from mmwsss.config.loading import _init_args, unknown_argument
    cls = _checked_class(type_name)
    if cls is None:
        return []
    args = {k: v for k, v in node.items() if k not in ('type', '_scope_')}
    problems = [f'{where}.{k}: {why}' for k in args
                for why in [unknown_argument(cls.__name__, k)] if why]
    known, _ = _init_args(cls.__name__) or (set(args), True)
    try:
        cls.check_args(**{k: v for k, v in args.items() if k in known})
    except (ValueError, TypeError, ImportError) as e:
        msg = str(e)
        # a message that starts with the argument's name gets the config key in front
        first = re.match(r'[\w.]*', msg).group(0).split('.')[0]
        problems.append(f'{where}.{msg}' if first in known else f'{where}: {msg}')
    return problems


def config_value_problems(cfg, sections=('train_dataloader', 'val_dataloader',
                                         'test_dataloader')) -> List[str]:
    """The values under ``sections`` that our own transforms and datasets would
    refuse when built, one line each, naming the config key, the value and
    what it may be: every ``SaliencyPseudoLabel`` (a pipeline step or a WSSS
    dataset's ``pseudo_label_cfg``), ``LoadSaliencyMap``,
    ``LoadGTSubsetMask``, ``PackClsSaliencyInputs`` and WSSS dataset. Each
    class's ``check_args`` is the check its ``__init__`` makes, run here
    without reading a file or building anything. Then the keys nobody would
    read, in the whole config (:func:`unknown_key_problems`). Empty: all in
    order.
    """
    problems, seen = [], set()
    for section in sections:
        node = cfg.get(section)
        if not node:
            continue
        found = [(w, d, d['type']) for w, d in _walk(node, section)
                 if isinstance(d.get('type'), str)]
        # a WSSS dataset's pseudo_label_cfg: the SaliencyPseudoLabel step, type left out
        found += [(w, d, 'SaliencyPseudoLabel') for w, d in _pseudo_label_steps(node, section)
                  if 'type' not in d]
        for where, d, type_name in found:
            if id(d) not in seen:
                seen.add(id(d))
                problems += _argument_problems(where, d, type_name)
    return problems + unknown_key_problems(cfg)


def check_config_values(cfg, sections=('train_dataloader', 'val_dataloader',
                                       'test_dataloader')) -> None:
    """Refuse, before anything is built, the values our transforms and datasets
    would refuse (:func:`config_value_problems`).

    Raises:
        WSSSConfigError: one line, each problem naming its config key.
    """
    problems = config_value_problems(cfg, sections)
    if problems:
        raise WSSSConfigError('; '.join(problems))


# mmengine's dicts that a config often writes without ``type=``, the class the
# Runner then builds, and the arguments the Runner itself fills in
_DEFAULT_TYPES = dict(val_cfg='ValLoop', test_cfg='TestLoop', log_processor='LogProcessor',
                      optim_wrapper='OptimWrapper')
_RUNNER_FILLS = frozenset({'runner', 'dataloader', 'evaluator'})


def _runner_reads(method: str, var: str) -> frozenset:
    """The keys ``Runner.<method>`` reads from its dict ``var`` (``var.get('k')``,
    ``var.pop('k')``), from the installed mmengine's source."""
    import inspect
    from mmengine.runner import Runner
    src = inspect.getsource(getattr(Runner, method))
    return frozenset(re.findall(rf"\b{var}\.(?:get|pop)\(\s*'(\w+)'", src))


def _dataloader_keys() -> frozenset:
    """What a ``*_dataloader`` dict may hold: what ``Runner.build_dataloader``
    reads and torch's ``DataLoader`` arguments, to which it passes the rest."""
    import inspect
    from torch.utils.data import DataLoader
    args = set(inspect.signature(DataLoader.__init__).parameters) - {'self'}
    return frozenset(args | _runner_reads('build_dataloader', 'dataloader_cfg'))


def _class_keys(type_name: str, extra=()) -> Optional[frozenset]:
    from mmwsss.config.loading import _init_args
    found = _init_args(type_name)
    if not found or found[1]:  # unknown, or a class with **kwargs: left to it
        return None
    return frozenset((found[0] - _RUNNER_FILLS) | set(extra) | {'type', '_scope_'})


def known_keys(where: str, node: dict, parent: Any = None) -> Optional[Tuple[frozenset, str]]:
    """The keys the dict at config key ``where`` may hold, when it is one whose
    keys nobody else checks: mmengine's ``randomness``, ``env_cfg``,
    ``*_dataloader``, ``train_cfg`` / ``val_cfg`` / ``test_cfg`` (by their loop
    type), ``log_processor`` and ``optim_wrapper`` (by their type or the one the
    Runner uses without it), and the ``data_prefix`` of our datasets
    (``parent`` is the dataset's dict). Read from mmengine's signatures and
    source, so they follow the installed version. Returns (keys, what the dict
    is), or None: a dict left to the class that takes it.
    """
    if not isinstance(node, dict):
        return None
    if where == 'randomness':
        import inspect
        from mmengine.runner import Runner
        args = set(inspect.signature(Runner.set_randomness).parameters) - {'self'}
        return frozenset(args), 'Runner.set_randomness'
    if where == 'env_cfg':
        return _runner_reads('setup_env', 'env_cfg'), "the Runner's env_cfg"
    if re.fullmatch(r'(train|val|test)_dataloader', where) and 'type' not in node:
        return _dataloader_keys(), "the Runner's build_dataloader (torch's DataLoader)"
    if where.endswith('.data_prefix') and isinstance(parent, dict) and \
            isinstance(parent.get('type'), str) and _checked_class(parent['type']):
        from mmwsss.datasets.base import DATA_PREFIX_KEYS
        return frozenset(DATA_PREFIX_KEYS), f"{parent['type']}'s data_prefix"
    if where == 'train_cfg':
        kind = node.get('type') or ('EpochBasedTrainLoop' if node.get('by_epoch')
                                    else 'IterBasedTrainLoop')
        keys = _class_keys(str(kind).split('.')[-1], () if 'type' in node else ('by_epoch', ))
    elif where in _DEFAULT_TYPES:
        if where == 'optim_wrapper' and node.get('constructor') not in (
                None, 'DefaultOptimWrapperConstructor'):
            return None  # a constructor of its own reads what it likes
        kind = str(node.get('type') or _DEFAULT_TYPES[where]).split('.')[-1]
        extra = ('constructor', 'paramwise_cfg') if where == 'optim_wrapper' else ()
        keys = _class_keys(kind, extra)
    else:
        return None
    return (keys, str(node.get('type') or kind)) if keys else None


def unknown_key(where: str, key: str, node: dict, parent: Any = None) -> Optional[str]:
    """Why ``key`` cannot be a key of the dict at ``where`` (:func:`known_keys`),
    with the nearest known key, or None."""
    import difflib
    found = known_keys(where, node, parent)
    if found is None or key in found[0]:
        return None
    keys, what = found
    close = difflib.get_close_matches(key, sorted(keys), n=1, cutoff=0.6)
    hint = f"did you mean '{close[0]}'?" if close else f"it reads {', '.join(sorted(keys))}"
    return f"{what} reads no key '{key}'; {hint}"


def unknown_key_problems(cfg) -> List[str]:
    """Every key of a config that no one reads under a dict of :func:`known_keys`
    (``randomness.sed``, ``train_dataloader.batch_sze``,
    ``....data_prefix.cam_pth``), one line each naming the config key."""
    problems = []
    for top in cfg.keys():
        for where, node in _walk(cfg[top], top):
            for key, child in node.items():
                if isinstance(child, dict) and key == 'data_prefix':
                    problems += [f'{where}.data_prefix.{k}: {why}' for k in child
                                 for why in [unknown_key(f'{where}.data_prefix', k, child, node)]
                                 if why]
            if where == top:
                problems += [f'{where}.{k}: {why}' for k in node
                             for why in [unknown_key(where, k, node)] if why]
    return problems
