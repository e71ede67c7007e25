"""Old import paths of names moved out of ``mmwsss.utils`` in 0.2: each keeps
working for one release, with a ``DeprecationWarning`` that names the new path."""
import importlib
import os.path as osp
import sys
import warnings
from typing import Dict

#: removed in this release
REMOVED_IN = '0.3'

# the names ``from mmwsss.utils import X`` gave before 0.2
NAMES: Dict[str, str] = dict(
    checkpoint_safe_globals='mmwsss.engine.checkpoint',
    register_checkpoint_safe_globals='mmwsss.engine.checkpoint',
    check_label_overwrite='mmwsss.config', check_pseudo_label_dirs='mmwsss.config',
    check_vis_backends='mmwsss.config', find_pseudo_label_step='mmwsss.config',
    DictAction='mmwsss.config', load_config='mmwsss.config', resolve_config_path='mmwsss.config',
    setup_cpu_distributed='mmwsss.parallel', sync_bn_to_bn='mmwsss.parallel',
    device_note='mmwsss.parallel', init_distributed='mmwsss.parallel',
    is_main_process='mmwsss.parallel')


def _stacklevel() -> int:
    """The ``stacklevel`` of the first frame outside this folder: the warning names
    the user's line (``warnings`` itself skips the import machinery's frames)."""
    here = osp.dirname(osp.abspath(__file__))
    frame, level = sys._getframe(1), 1
    while frame is not None:
        name = frame.f_code.co_filename
        if 'importlib' not in name or '_bootstrap' not in name:  # counted by warnings
            if osp.dirname(osp.abspath(name)) != here:
                return level
            level += 1
        frame = frame.f_back
    return level


def warn_moved(old: str, new: str) -> None:
    warnings.warn(f'{old} moved to {new} in mmwsss 0.2; the old path goes in {REMOVED_IN}',
                  DeprecationWarning, stacklevel=_stacklevel())


def alias_module(namespace: dict, *targets: str) -> None:
    """Fill an old module's ``namespace`` with every name of its new module(s)."""
    warn_moved(namespace['__name__'], ' and '.join(targets))
    for target in targets:
        module = importlib.import_module(target)
        namespace.update({k: v for k, v in vars(module).items() if not k.startswith('__')})
