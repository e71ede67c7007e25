"""``_base_ = 'mmwsss::...'``: our configs inheritable by scope, as mmseg's are.

mmengine resolves ``scope::path`` through a fixed table of OpenMMLab packages
(``MODULE2PACKAGE``) and the package's ``.mim/configs`` folder, found with
``get_installed_path``, which points into site-packages even for an editable
(PEP 660) install. ``import mmwsss`` adds our entry to the table and resolves
our folder from the imported package, whatever the install mode; config files
are read from ``mmwsss/.mim/configs`` (a link to ``configs/`` in the source tree,
a copy in a wheel).
"""
import os.path as osp

SCOPE = 'mmwsss'


def register_config_scope() -> None:
    """Let ``Config.fromfile`` resolve ``mmwsss::`` (idempotent)."""
    from mmengine.config import config as config_module
    from mmengine.config import utils as config_utils
    config_utils.MODULE2PACKAGE.setdefault(SCOPE, SCOPE)
    original = config_module.get_installed_path
    if getattr(original, '_mmwsss', False):
        return

    def get_installed_path(package: str) -> str:
        if package == SCOPE:
            return osp.dirname(osp.dirname(osp.abspath(__file__)))
        return original(package)

    get_installed_path._mmwsss = True
    config_module.get_installed_path = get_installed_path
