"""Load a command-line tool of ``tools/`` by path, as ``python tools/x.py`` runs it.

``tools/`` is not a package (as in mmseg): the tests drive each tool through its
``main(argv)``, and what tools share lives in ``mmwsss``.
"""
import importlib.util
import os.path as osp
import sys

TOOLS = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'tools')


def load_tool(name: str):
    """The module of ``tools/<name>.py`` (``name`` may hold a sub-folder)."""
    key = 'mmwsss_tool_' + name.replace('/', '_')
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(key, osp.join(TOOLS, name + '.py'))
        module = importlib.util.module_from_spec(spec)
        sys.modules[key] = module  # multiprocessing pickles worker functions by module
        spec.loader.exec_module(module)
    return sys.modules[key]
