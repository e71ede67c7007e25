"""Checks on a config before any training starts."""
import os.path as osp
from typing import Any, List, Tuple


def _find_pseudo_label_transforms(node: Any, where: str) -> List[Tuple[str, dict]]:
    found = []
    if isinstance(node, dict):
        t = node.get('type')
        if isinstance(t, str) and t.split('.')[-1] == 'SaliencyPseudoLabel':
            found.append((where, node))
        for k, v in node.items():
            found += _find_pseudo_label_transforms(v, f'{where}.{k}' if where else str(k))
    elif isinstance(node, (list, tuple)):
        for i, v in enumerate(node):
            found += _find_pseudo_label_transforms(v, f'{where}.{i}')
    return found


def check_pseudo_label_dirs(cfg, sections=('train_dataloader', )) -> int:
    """Fail early when a ``SaliencyPseudoLabel`` names a missing folder.

    Looks at every ``SaliencyPseudoLabel`` under ``sections`` of the config
    and checks that its ``cam_dir`` and (when set) ``sal_dir`` are existing
    directories, so that a typo in a WSSS-BED key fails at start, with the
    path, and not at the first sample of a long run.

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
                if key == 'sal_dir' and path is None:
                    continue
                if path is None or not osp.isdir(path):
                    missing.append(f'{where}.{key} = {path!r} '
                                   f'(absolute: {osp.abspath(str(path))})')
    if missing:
        raise FileNotFoundError('SaliencyPseudoLabel folder(s) not found:\n  ' +
                                '\n  '.join(missing))
    return n
