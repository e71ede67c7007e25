"""Check mmwsss on a GPU node in one run whose report grows as it goes.

    python tools/gpu_check.py --out OUT [--dry-run] [--parts a,b,c,d] [--iters N]
        [--time-limit S] [--timeout PART=S ...] [--recipes NAME,...] [--nproc N] [--scratch DIR]

Run it on the node, in the environment mmwsss is installed in, with every GPU the
segmentors should train on visible; ``--help`` lists the parts and what "passed" means
for each. The check itself is :mod:`mmwsss.gpu_check`. Exit status: 0 when no part
failed or timed out.
"""
import importlib
import importlib.util
import os.path as osp
import sys

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)  # mmwsss from this checkout, as tools/train.py


def _import_gpu_check():
    """``mmwsss.gpu_check`` without running ``mmwsss/__init__.py``, which loads the
    whole stack: the check reports a stack that does not import (or crashes on import)
    from the prepare step's own process, so this one must not import it first."""
    name = 'mmwsss.gpu_check'
    if name in sys.modules or 'mmwsss' in sys.modules:
        return importlib.import_module(name)
    folder = osp.join(ROOT, 'mmwsss', 'gpu_check')
    spec = importlib.util.spec_from_file_location(
        name, osp.join(folder, '__init__.py'), submodule_search_locations=[folder])
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # its modules import each other relatively, from here
    spec.loader.exec_module(module)
    return module


_import_gpu_check()
from mmwsss.gpu_check.cli import main, parse_args  # noqa: F401

if __name__ == '__main__':
    sys.exit(main())
