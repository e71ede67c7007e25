import os
import os.path as osp
import shutil

import pytest

DATA = osp.join(osp.dirname(osp.abspath(__file__)), 'data')
# Tests never download: make any hub access fail fast.
os.environ.setdefault('HF_HUB_OFFLINE', '1')


@pytest.fixture
def voc_root():
    return osp.join(DATA, 'voc')


@pytest.fixture
def coco_root():
    return osp.join(DATA, 'coco')


@pytest.fixture
def voc_copy(tmp_path):
    """A writable copy of the VOC fixture (for tests that damage inputs)."""
    dst = tmp_path / 'voc'
    # without the label caches that tests on the fixture itself leave beside its lists
    shutil.copytree(osp.join(DATA, 'voc'), dst,
                    ignore=shutil.ignore_patterns('.mmwsss_cache'))
    return str(dst)


@pytest.fixture(autouse=True, scope='session')
def mmseg_scope():
    """Build registry objects in mmseg's scope, as mmseg's own tools do."""
    from mmseg.utils import register_all_modules
    register_all_modules(init_default_scope=True)
