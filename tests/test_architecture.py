"""The package's layout holds: each folder imports only the folders below it
(docs/architecture.md), no library function takes more than 7 parameters, and the
paths that moved out of ``mmwsss.utils`` keep working, with a warning, until 0.3."""
import ast
import importlib
import os.path as osp
import pathlib
import warnings
from typing import Dict, List, Tuple

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1] / 'mmwsss'

# lowest first; a room imports only rooms of lower layers (never one of its own layer)
LAYERS: List[Tuple[str, ...]] = [
    ('errors', 'version', 'utils'),
    ('functional', ),
    ('fileio', ),
    ('parallel', 'outputs'),
    ('registry', ),
    ('models', 'datasets', 'visualization'),
    ('engine', ),
    ('config', ),
    ('preflight', 'evaluation'),
    ('__init__', ),  # registers every module
    ('apis', ),  # high-level calls; imports mmwsss to register
    ('cli', ),
    ('testing', '__main__'),
    ('gpu_check', ),  # tools/gpu_check.py's parts; builds tiny data with testing
]
LAYER = {room: i for i, rooms in enumerate(LAYERS) for room in rooms}


def _room(module: str) -> str:
    parts = module.split('.')
    return '__init__' if len(parts) == 1 else parts[1]


def import_edges(root: pathlib.Path) -> List[Tuple[str, str, str]]:
    """``(from_room, to_room, 'file:line')`` for every import of the package by
    itself, those inside functions included."""
    edges = []
    for path in sorted(root.rglob('*.py')):
        rel = path.relative_to(root.parent).with_suffix('')
        module = '.'.join(rel.parts)
        package = module if path.name == '__init__.py' else module.rsplit('.', 1)[0]
        package = package[:-len('.__init__')] if package.endswith('.__init__') else package
        src = _room(module[:-len('.__init__')] if module.endswith('.__init__') else module)
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split('.')[:len(package.split('.')) - node.level + 1]
                    targets = ['.'.join(base + ([node.module] if node.module else []))]
                    if not node.module:
                        targets = [f'{targets[0]}.{a.name}' for a in node.names]
                else:
                    targets = [node.module]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                continue
            for target in targets:
                if target.split('.')[0] == root.name and _room(target) != src:
                    edges.append((src, _room(target), f'{path.relative_to(root.parent)}:'
                                  f'{node.lineno}'))
    return edges


def layer_violations(edges, layer: Dict[str, int]) -> List[str]:
    bad = []
    for src, dst, where in edges:
        if src not in layer or dst not in layer:
            bad.append(f'{where}: {src} -> {dst}: a folder docs/architecture.md does not place')
        elif layer[dst] >= layer[src]:
            bad.append(f'{where}: {src} (layer {layer[src]}) imports {dst} (layer {layer[dst]})')
    return bad


def test_every_folder_imports_only_the_folders_below_it():
    edges = import_edges(ROOT)
    assert len(edges) > 50  # the scan sees the package's imports
    assert layer_violations(edges, LAYER) == []


def test_the_layer_check_catches_an_upward_import(tmp_path):
    """The check fails on what it exists to catch: a low folder importing a high
    one, in a function too, and a relative import from a folder's ``__init__``."""
    pkg = tmp_path / 'mmwsss'
    for sub in ('fileio', 'config'):
        (pkg / sub).mkdir(parents=True)
    (pkg / '__init__.py').write_text('')
    (pkg / 'config' / '__init__.py').write_text('from ..fileio import x\n')
    (pkg / 'fileio' / '__init__.py').write_text('from ..config import y\n')
    (pkg / 'fileio' / 'png.py').write_text('def f():\n    from mmwsss.config import z\n')
    bad = layer_violations(import_edges(pkg), LAYER)
    assert len(bad) == 2 and all('fileio (layer 2) imports config' in b for b in bad), bad
    assert any('png.py:2' in b for b in bad)


def test_the_architecture_doc_places_every_folder():
    doc = (ROOT.parent / 'docs' / 'architecture.md').read_text()
    folders = {p.name for p in ROOT.iterdir() if p.is_dir() and not p.name.startswith(('_', '.'))}
    for folder in folders:
        assert folder in LAYER, f'mmwsss/{folder}/ is in no layer of this test'
        assert f'`{folder}/`' in doc, f'docs/architecture.md has no line for {folder}/'


def _registered(cls: ast.ClassDef) -> bool:
    return any(isinstance(d, ast.Call) and isinstance(d.func, ast.Attribute) and
               d.func.attr == 'register_module' for d in cls.decorator_list)


def _config_classes(trees) -> set:
    """Registered classes and the bases they inherit ``__init__`` from."""
    classes = [c for t in trees for c in ast.walk(t) if isinstance(c, ast.ClassDef)]
    names = {c.name for c in classes if _registered(c)}
    while True:
        bases = {b.id if isinstance(b, ast.Name) else getattr(b, 'attr', None)
                 for c in classes if c.name in names for b in c.bases}
        if bases <= names:
            return names
        names |= {b for b in bases if b}


def too_many_parameters(root: pathlib.Path, limit: int = 7) -> List[str]:
    """Every function over ``limit`` parameters (``self``/``cls`` aside, ``*args``
    and ``**kwargs`` counted), but the ``__init__`` of a registered class (or of a
    base it inherits it from): its arguments are the config keys users write, as
    mmseg's own modules' are."""
    trees = {path: ast.parse(path.read_text()) for path in sorted(root.rglob('*.py'))}
    config_classes = _config_classes(trees.values())
    found = []
    for path, tree in trees.items():
        exempt = {id(f) for c in ast.walk(tree)
                  if isinstance(c, ast.ClassDef) and c.name in config_classes
                  for f in c.body if isinstance(f, ast.FunctionDef) and f.name == '__init__'}
        for node in ast.walk(tree):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) or id(node) in exempt:
                continue
            a = node.args
            names = [x.arg for x in a.posonlyargs + a.args + a.kwonlyargs
                     if x.arg not in ('self', 'cls')]
            n = len(names) + bool(a.vararg) + bool(a.kwarg)
            if n > limit:
                found.append(f'{path.relative_to(root.parent)}:{node.lineno} {node.name}: {n}')
    return found


def test_no_library_function_takes_more_than_seven_parameters():
    assert too_many_parameters(ROOT) == []


def test_the_parameter_count_sees_a_long_function(tmp_path):
    pkg = tmp_path / 'mmwsss'
    pkg.mkdir()
    (pkg / 'a.py').write_text(
        '@T.register_module()\nclass A(Base):\n    def __init__(self, a, b, c, d, e, f, g, h): pass\n'
        'class Base:\n    def __init__(self, a, b, c, d, e, f, g, h): pass\n'
        'class B:\n    def __init__(self, a, b, c, d, e, f, g, h): pass\n'
        'def f(a, b, c, d, e, f, g, *args, **kwargs): pass\n'
        'def ok(a, b, c, d, e, f, g): pass\n')
    assert sorted(ln.split(' ', 1)[1] for ln in too_many_parameters(pkg)) == ['__init__: 8',
                                                                            'f: 9']


MOVED = {
    'mmwsss.utils.config_loading': 'mmwsss.config.loading',
    'mmwsss.utils.config_check': 'mmwsss.config.checks',
    'mmwsss.utils.config_scope': 'mmwsss.config.scope',
    'mmwsss.utils.smoke': 'mmwsss.config.smoke',
    'mmwsss.utils.data_check': 'mmwsss.preflight.data',
    'mmwsss.utils.weights_check': 'mmwsss.preflight.weights',
    'mmwsss.utils.dist': 'mmwsss.parallel.dist',
    'mmwsss.utils.worker_pool': 'mmwsss.parallel.worker_pool',
    'mmwsss.utils.outputs': 'mmwsss.outputs.locks',
    'mmwsss.utils.cli': 'mmwsss.cli.tool',
    'mmwsss.utils.argtypes': 'mmwsss.cli.argtypes',
    'mmwsss.utils.checkpoint': 'mmwsss.engine.checkpoint',
}


@pytest.mark.parametrize('old,new', sorted(MOVED.items()))
def test_a_moved_module_keeps_its_old_path_with_a_warning(old, new):
    import sys
    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning, match=f'{old} moved to .*{new}') as record:
        __import__(old)  # as an `import` statement does, no importlib frame
    module = sys.modules[old]
    assert record[0].filename == __file__  # the warning names the importer's line
    target = importlib.import_module(new)
    public = [k for k in vars(target) if not k.startswith('_')]
    assert public and all(getattr(module, k) is getattr(target, k) for k in public)


def test_the_old_utils_names_keep_working_with_one_warning():
    import mmwsss.utils as utils
    from mmwsss.config import load_config
    from mmwsss.utils._moved import NAMES
    vars(utils).pop('load_config', None)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter('always')
        from mmwsss.utils import load_config as old  # noqa: F401
    assert old is load_config
    assert [str(w.message).split(' moved')[0] for w in record] == ['mmwsss.utils.load_config']
    for name, module in NAMES.items():
        assert getattr(importlib.import_module(module), name) is not None
    with pytest.raises(AttributeError, match='no_such'):
        utils.no_such
