"""Check, in seconds and before any model is built, every file a config will read."""
import os
import os.path as osp
import re
import socket
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Tuple, Union

import numpy as np

from mmwsss.config.checks import _dataset_map_dirs, _walk, config_value_problems

# what upstream tools write, for the hint
_ALIASES = {'train_aug.txt': ['trainaug.txt', 'train_aug_cls.txt']}


def _join(root, path):
    return path if not path or osp.isabs(path) or not root else osp.join(root, path)


def _hint(path: str) -> str:
    folder, name = osp.split(path)
    for alt in _ALIASES.get(name, []):
        if osp.isfile(osp.join(folder, alt)):
            return f'; {alt} is there (what an upstream tool wrote): rename or link it'
    return ''


def _default_prefix(ds_type) -> dict:
    """The ``data_prefix`` a dataset class uses when the config gives none."""
    import inspect

    from mmseg.registry import DATASETS
    cls = DATASETS.get(ds_type) if isinstance(ds_type, str) else None
    if cls is None:
        return {}
    param = inspect.signature(cls.__init__).parameters.get('data_prefix')
    default = getattr(param, 'default', None)
    return dict(default) if isinstance(default, dict) else {}


def _voc_official(folder: str):
    """VOC's own masks beside ``SegmentationClassAug``, the folder mmseg's
    voc_aug.py fills with SBD's masks only (None for any other folder)."""
    parent, name = osp.split(osp.normpath(folder))
    official = osp.join(parent, 'SegmentationClass')
    return official if name == 'SegmentationClassAug' and osp.isdir(official) else None


def _read_ids(where, list_file):
    """(ids, problems) of a ``.txt`` image list; no ids for other ann_files."""
    if not list_file or not list_file.endswith('.txt') or not osp.isfile(list_file):
        return [], []
    from mmwsss.errors import WSSSInputError
    from mmwsss.fileio import read_id_list
    try:
        return read_id_list(list_file), []
    except WSSSInputError as e:
        return [], [f'{where}.ann_file: {e}']


def list_folders(folders: Iterable[str],
                 nproc: int = 8) -> Dict[str, Union[frozenset, OSError]]:
    """The file names in each folder, each folder listed once (``os.scandir``),
    several at a time: one directory read per folder instead of one ``stat``
    per file, which is what makes checking 10,582 ids' maps take a fraction of
    a second on a local disk and seconds, not minutes, on a network one. A
    folder that cannot be listed maps to the ``OSError`` that says why."""
    def names(folder):
        try:
            with os.scandir(folder) as it:
                return frozenset(e.name for e in it)
        except OSError as e:
            return e

    folders = sorted(set(folders))
    if len(folders) <= 1:
        return {f: names(f) for f in folders}
    with ThreadPoolExecutor(min(nproc, len(folders))) as pool:
        return dict(zip(folders, pool.map(names, folders)))


@dataclass(frozen=True)
class MapFolder:
    """A folder of per-image maps that training reads: its config key (below
    the dataset's), the folder, what it holds, and how an image's files are
    named (``cam_format``, or ``'png'`` with ``suffix`` for saliency maps)."""
    key: str
    folder: str
    what: str  # 'CAM' or 'saliency map'
    fmt: str
    suffix: str = '.png'

    def names(self, img_id: str, classes: Optional[List[int]]) -> Optional[List[str]]:
        """The file names an image needs here; None for ``bed_png`` without its
        labelled classes (then any ``<img_id>_<c>.png`` will do)."""
        if self.what != 'CAM':
            return [img_id + self.suffix]
        if self.fmt == 'bed_png' and classes is None:
            return None
        from mmwsss.fileio import CAMStore
        return CAMStore(None, self.fmt).paths(img_id, classes or (), stem=img_id)


def _steps(ds: dict, name: str) -> List[Tuple[str, dict]]:
    """(key, config) of each ``name`` step of a dataset's pipeline."""
    return [(f'pipeline.{i}', t) for i, t in enumerate(ds.get('pipeline') or [])
            if isinstance(t, dict) and str(t.get('type', '')).split('.')[-1] == name]


def pseudo_label_step(ds: dict) -> Tuple[Optional[str], Optional[dict]]:
    """(key, config) of the ``SaliencyPseudoLabel`` that makes a dataset's
    training labels: a WSSS dataset's ``pseudo_label_cfg`` (with
    ``pseudo_labels``), or a step of its pipeline (any dataset: mmseg's own
    take one there); (None, None) without one."""
    if ds.get('pseudo_labels') and isinstance(ds.get('pseudo_label_cfg'), dict):
        return 'pseudo_label_cfg', ds['pseudo_label_cfg']
    steps = _steps(ds, 'SaliencyPseudoLabel')
    return steps[0] if steps else (None, None)


def map_folders(ds: dict) -> Tuple[List[MapFolder], List[str]]:
    """The map folders a training dataset's pipeline reads, as the transforms
    resolve them, and the problems found on the way (a step with no folder to
    read; a ``packed`` store without saliency maps in ``saliency`` mode).

    ``SaliencyPseudoLabel`` reads its CAMs from ``cam_dir``, else from the
    dataset's ``data_prefix.cam_path`` (under ``maps_root``); its saliency maps
    (``saliency`` mode, a store other than ``packed``) from ``sal_dir``, else
    ``data_prefix.sal_path``; ``LoadSaliencyMap`` its maps likewise. Keys are
    relative to the dataset's config key.
    """
    prefix = dict(_dataset_map_dirs(ds)) if isinstance(ds.get('data_prefix'), dict) else {}
    folders, problems = [], []

    def add(what, step_key, step, arg, prefix_key, fmt, suffix='.png'):
        if step.get(arg) is not None:
            found = MapFolder(f'{step_key}.{arg}', step[arg], what, fmt, suffix)
        elif prefix.get(prefix_key) is not None:
            found = MapFolder(prefix_key, prefix[prefix_key], what, fmt, suffix)
        else:
            problems.append(f'{step_key}: no {what} folder: set {step_key}.{arg}, or '
                            f'{prefix_key} on a WSSS dataset')
            return
        # two steps reading the same files: checked (and named) once
        if all((f.folder, f.fmt, f.suffix) != (found.folder, fmt, suffix) for f in folders):
            folders.append(found)

    key, step = pseudo_label_step(ds)
    if step is not None:
        fmt = step.get('cam_format', 'bed_png')
        add('CAM', key, step, 'cam_dir', 'data_prefix.cam_path', fmt)
        if step.get('mode', 'saliency') == 'saliency':
            if fmt != 'packed':
                add('saliency map', key, step, 'sal_dir', 'data_prefix.sal_path', 'png')
            elif folders:
                problems += _packed_without_saliency(key, folders[0])
    for key, step in _steps(ds, 'LoadSaliencyMap'):
        add('saliency map', key, step, 'sal_dir', 'data_prefix.sal_path', 'png',
            step.get('suffix', '.png'))
    return folders, problems


def _packed_without_saliency(key: str, cams: MapFolder) -> List[str]:
    """A ``packed`` store without saliency maps read in ``saliency`` mode: every
    image would fail (:func:`mmwsss.fileio.cam_store.pack_saliency_problem`)."""
    from mmwsss.errors import WSSSInputError
    from mmwsss.fileio.cam_store import pack_saliency_problem
    try:
        problem = pack_saliency_problem(cams.folder)
    except WSSSInputError as e:
        return [f'{cams.key}: {e}']
    return [f'{cams.key} ({key}.mode): {problem}'] if problem else []


_BED_PNG = re.compile(r'(.+)_(\d+)\.png$')


def _first_three(names: List[str], sep: str = ', ') -> str:
    """The first three of ``names`` and how many more: a problem line stays one line."""
    more = f' and {len(names) - 3} more' if len(names) > 3 else ''
    return sep.join(names[:3]) + more


@dataclass(frozen=True)
class ListedImages:
    """The images whose maps a split reads: their ids (None: they could not be
    listed), the file that lists them, and their image-level labels (None: the
    dataset gives none)."""
    ids: Optional[List[str]]
    source: str
    labels: Optional[Dict[str, List[int]]] = None


def _check_maps(where: str, folders: List[MapFolder], listed: ListedImages,
                listings: Dict[str, Union[frozenset, OSError]], counts: Counter,
                max_class: Optional[int] = None) -> List[str]:
    """Every listed image's maps present in the folders training reads
    (``gt_subset`` images, which train on GT, left out by the caller); with
    ``listed.ids`` None (the images could not be listed), the folders only.

    ``bed_png`` needs ``<id>_<c>.png`` for each labelled class ``c`` (with no
    image-level labels, at least one ``<id>_*.png``: the transform then takes
    the classes the store holds); ``npz`` / ``npy_dict`` / ``packed``
    ``<id>.npz`` / ``<id>.npy`` / ``<id>.maps``; saliency ``<id>.png``.
    Folders come listed in ``listings`` (see :func:`list_folders`).

    Without image-level labels, ``SaliencyPseudoLabel`` labels an image with
    every class its ``bed_png`` files hold (mmseg's own datasets give it no
    number of classes to check them against): a file of a class above
    ``max_class`` (the dataset's classes, from its metainfo) is a problem,
    since its pixels would get a label the dataset does not have.
    """
    ids, id_source, labels = listed.ids, listed.source, listed.labels
    problems = []
    for f in folders:
        if not osp.isdir(f.folder):
            problems.append(f'{where}.{f.key}: folder {f.folder} not found (set --cfg-options '
                            f'{where}.maps_root=... or {where}.{f.key}=...)')
            continue
        present = listings[f.folder]
        unreadable = _unreadable_folder(f.folder, present)
        if unreadable:
            problems.append(f'{where}.{f.key}: {f.what} folder {unreadable}')
            continue
        if ids is None:
            continue
        stems = None
        missing, found, beyond = [], [], []
        for i in ids:
            names = f.names(i, labels.get(i) if labels else None)
            if names is None:  # bed_png, classes unknown: any of the image's CAMs
                if stems is None:
                    stems = {}
                    for m in filter(None, map(_BED_PNG.match, present)):
                        stems.setdefault(m.group(1), []).append(m.group(0))
                if i not in stems:
                    missing.append(f'{i}_<class>.png')
                found += stems.get(i, [])
                if max_class is not None:
                    beyond += [n for n in stems.get(i, [])
                               if int(_BED_PNG.match(n).group(2)) > max_class]
            else:
                missing += [n for n in names if n not in present]
                found += [n for n in names if n in present]
        counts["images' CAMs" if f.what == 'CAM' else 'saliency maps'] += len(ids)
        if missing:
            problems.append(
                f'{where}.{f.key}: {len(missing)} {f.what} file(s) ({f.fmt}) of the {len(ids)} '
                f'images listed in {id_source} are not in {f.folder}: {_first_three(missing)}')
        if beyond:
            problems.append(
                f'{where}.{f.key}: {len(beyond)} CAM file(s) in {f.folder} of the images '
                f'listed in {id_source} are of a class above {max_class}: '
                f'{_first_three(beyond)}; with no image-level labels every CAM file '
                f'of an image is read, and class c labels its pixels c + 1, which is no '
                f"label of the dataset (its metainfo's {max_class + 2} classes: labels "
                f'0..{max_class + 1}): remove them, or give image-level labels (a WSSS '
                'dataset with cls_label_file)')
        # there, and readable by this user (an access() each, no stat)
        denied = _denied(f.folder, found)
        if denied:
            problems.append(
                f'{where}.{f.key}: {len(denied)} {f.what} file(s) of the images listed in '
                f'{id_source} are unreadable (permission denied): {_first_three(denied)}')
        if f.fmt == 'packed' and f.what == 'CAM':
            problems += _stale_packs(f'{where}.{f.key}', f.folder,
                                     [i for i in ids if i + '.maps' in present])
    return problems


def _denied(folder: str, names: List[str]) -> List[str]:
    """The paths of the files ``names`` in ``folder`` that this user may not
    read: an ``access`` each, relative to the folder (no path to resolve)."""
    if not names:
        return []
    fd = os.open(folder, os.O_RDONLY | getattr(os, 'O_DIRECTORY', 0))
    try:
        if os.access in os.supports_dir_fd:
            return [osp.join(folder, n) for n in names
                    if not os.access(n, os.R_OK, dir_fd=fd)]
    finally:
        os.close(fd)
    return [p for p in (osp.join(folder, n) for n in names) if not os.access(p, os.R_OK)]


def _unreadable_folder(folder: str, listing=None) -> Optional[str]:
    """``'<folder> cannot be listed (...)...'`` or ``'... cannot be entered...'``
    when this user cannot read the files of ``folder`` (None when it can): its
    files are then unreadable, not missing. ``listing`` is the folder's entry
    in :func:`list_folders`, when there is one."""
    if isinstance(listing, OSError) or not os.access(folder, os.R_OK):
        why = listing.strerror if isinstance(listing, OSError) else 'permission denied'
        return f'{folder} cannot be listed ({why}): its files are unreadable'
    if not os.access(folder, os.X_OK):
        return (f'{folder} cannot be entered (no execute permission): its files are '
                'unreadable')
    return None


def _stale_packs(key: str, folder: str, ids: List[str]) -> List[str]:
    """The packs whose source CAMs or saliency maps changed since they were
    packed (:func:`mmwsss.fileio.cam_store.stale_packs`), as one problem."""
    from mmwsss.fileio.cam_store import stale_packs
    stale = stale_packs(folder, ids)
    if not stale:
        return []
    return [f'{key}: {len(stale)} pack(s) in {folder} are stale: {_first_three(stale, "; ")}; '
            'rerun tools/pack_maps.py with the options that made it (it repacks those)']


def _dataset_images(ds: dict) -> Tuple[List[dict], Tuple[str, ...]]:
    """The data infos of a dataset config (``img_id``, ``img_path``, and
    ``seg_map_path``, ``cls_labels`` where it has them), from the dataset
    itself, built without a pipeline: whatever the ids come from (an id list,
    a label list, COCO's instances json, the image folder), they are the ones
    training reads. A ``gt_subset`` is left out here (checked on its own).
    With them, the dataset's ``classes`` (its metainfo: labels 0..len - 1).

    Raises:
        what the dataset raises on a list it cannot read.
    """
    import mmwsss.datasets  # noqa: F401  (registers the datasets)
    from mmseg.registry import DATASETS
    dataset = DATASETS.build(dict(ds, pipeline=[], serialize_data=False, lazy_init=False,
                                  **({'gt_subset': None} if 'gt_subset' in ds else {})))
    infos = []
    for info in dataset.data_list:
        img_id = info.get('img_id') or osp.splitext(osp.basename(info['img_path']))[0]
        infos.append(dict(info, img_id=img_id))
    return infos, tuple(dataset.metainfo.get('classes') or ())


def _check_listed_files(where, ids, list_file, folder, suffix, what='images') -> List[str]:
    """:func:`_check_files` of ``<folder>/<id><suffix>`` for each listed id."""
    return _check_files(where, [osp.join(folder, i + suffix) for i in ids], list_file, what)


def _check_files(where, paths, list_file, what='images') -> List[str]:
    """Every listed file present and not empty: a stat each (a few ms for VOC's
    10,582), while a 0-byte image fails in training with an OpenCV assertion
    that names no file, and a missing GT mask fails the first validation after
    hours of training."""
    bad, first_missing, kinds = [], None, set()
    for path in paths:
        try:
            if os.stat(path).st_size == 0:
                bad.append(f'{path} (0 bytes)')
                kinds.add('empty')
            elif not os.access(path, os.R_OK):
                bad.append(f'{path} (unreadable: permission denied)')
                kinds.add('unreadable')
        except PermissionError:  # a folder on its way that this user cannot enter
            bad.append(f'{path} (unreadable: permission denied on its folder)')
            kinds.add('unreadable')
        except OSError:
            bad.append(f'{path} (missing)')
            kinds.add('missing')
            first_missing = first_missing or path
    if not bad:
        return []
    said = ' or '.join(k for k in ('missing', 'empty', 'unreadable')
                       if k in kinds or k == 'empty' and kinds <= {'missing', 'empty'})
    hint = ''
    if first_missing:
        folder, name = osp.split(first_missing)
        official = _voc_official(folder)
        if official and osp.isfile(osp.join(official, name)):
            hint = (f'; VOC\'s own masks are in {official} (mmseg\'s voc_aug.py converts '
                    f'SBD\'s only): cp {official}/*.png {folder}/')
    return [f'{where}: {len(bad)} of the {len(paths)} {what} listed in {list_file} are '
            f'{said}: {_first_three(bad)}{hint}']


def _check_voc_official_masks(where, ids, folder, suffix, sample=50) -> List[str]:
    """VOC masks in ``SegmentationClassAug`` that differ from VOC's own in
    ``SegmentationClass`` beside it: SBD's, as mmseg's voc_aug.py leaves them,
    which would score validation against the wrong GT without any error (the
    first ``sample`` images found in both are compared)."""
    official = _voc_official(folder)
    if official is None:
        return []
    from mmwsss.errors import WSSSInputError
    from mmwsss.fileio import read_label_png
    differ, seen = [], 0
    try:
        for img_id in ids:
            a, b = (osp.join(d, img_id + suffix) for d in (folder, official))
            if not (osp.isfile(a) and osp.isfile(b)):
                continue
            if not np.array_equal(read_label_png(a, img_id), read_label_png(b, img_id)):
                differ.append(img_id)
            seen += 1
            if seen == sample:
                break
    except WSSSInputError as e:
        return [f'{where}: {e}']
    if not differ:
        return []
    return [f'{where}: {len(differ)} of {seen} masks in {folder} differ from VOC\'s own in '
            f'{official} (e.g. {differ[0]}{suffix}): SBD\'s masks, as mmseg\'s voc_aug.py '
            f'writes them, would be read instead of the official ones; '
            f'cp {official}/*.png {folder}/']


def _check_gt_subset(where, ds, ids, seg_dir, stat_masks):
    """The ``gt_subset`` list of a training set: there, its ids in the training
    list, and (``stat_masks``, when the masks of the whole list are not
    already checked) each id's GT mask present and not empty. Returns
    (problems, the subset's ids)."""
    from mmwsss.errors import WSSSInputError
    from mmwsss.fileio import read_id_list
    root = ds.get('data_root')
    subset = _join(root, ds['gt_subset'])
    if not osp.isfile(subset):
        return [f'{where}.gt_subset: {subset} not found'], []
    try:
        sub_ids = read_id_list(subset, 'gt_subset list file')
    except WSSSInputError as e:
        return [f'{where}.gt_subset: {e}'], []
    problems = []
    train_list = _join(root, ds.get('ann_file')) or _join(root, ds.get('cls_label_file'))
    if not ids and train_list:  # no ann_file: the ids of the class list
        ids, _ = _read_ids(where, train_list)
    if ids:
        known = set(ids)
        out = [i for i in sub_ids if i not in known]
        if out:
            problems.append(f'{where}.gt_subset: {len(out)} of the {len(sub_ids)} ids of '
                            f'{subset} are not in the training list {train_list}: '
                            f'{", ".join(out[:3])}{" ..." if len(out) > 3 else ""}')
    if stat_masks:
        problems += _check_listed_files(f'{where}.gt_subset', sub_ids, subset, seg_dir,
                                        ds.get('seg_map_suffix', '.png'), 'GT masks')
    return problems, sub_ids


@dataclass
class DataCheck:
    """What :func:`check_data_report` found: ``problems`` (one line each, naming
    the config key, the path and the fix; empty: all there), ``counts`` (what
    was checked: ``images``, ``GT masks``, ``images' CAMs``, ``saliency maps``,
    ``gt_subset ids``, each a number of images) and the time it took."""
    problems: List[str] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)
    seconds: float = 0.0

    def summary(self) -> str:
        """One line: the counts and the time, or the number of problems."""
        done = ', '.join(f'{n:,} {what}' for what, n in self.counts.items() if n)
        if self.problems:
            return f'{len(self.problems)} problem(s) ({done or "nothing"} checked in ' \
                   f'{self.seconds:.2f} s)'
        return f'all there: {done or "no listed file"} checked in {self.seconds:.2f} s'


def check_data(cfg, sections=('train_dataloader', 'val_dataloader', 'test_dataloader',
                              'cam_dataloader')) -> List[str]:
    """Problems with the files that the datasets of ``cfg`` will read: one line
    each, naming the config key, the path and the fix. Empty: all there.
    See :func:`check_data_report`."""
    return check_data_report(cfg, sections).problems


def _dataset_sections(cfg, sections):
    """(key, dataset config) of each dataset under ``sections``, each once
    (``test_dataloader = val_dataloader`` is checked as ``val_dataloader``)."""
    seen = []
    for section in sections:
        if not cfg.get(section):
            continue
        for where, ds in _walk(cfg[section], section):
            if 'data_root' in ds and 'pipeline' in ds and ds not in seen:
                seen.append(ds)
                yield where, ds


def check_data_report(cfg, sections=('train_dataloader', 'val_dataloader', 'test_dataloader',
                                     'cam_dataloader'), weights: bool = False) -> DataCheck:
    """Check every file the datasets of ``cfg`` will read, in seconds.

    Checks the values of our transforms and datasets
    (:func:`~mmwsss.config.checks.config_value_problems`), the data
    root, the image list (``ann_file``), the image-level label
    list (``cls_label_file``), every listed image, the GT mask of every listed
    image where the dataset reads them all (no ``pseudo_labels``, or labels
    derived from GT), the ``gt_subset`` list (its ids in the training list, the
    GT mask of each present and not empty), and every listed image's CAMs (one
    per labelled class for ``bed_png``) and saliency map, each map folder
    listed once (:func:`list_folders`) rather than a ``stat`` per file.
    With ``weights``, also the model's pretrained weights
    (:func:`mmwsss.preflight.weights.check_weights`, nothing downloaded).
    """
    from mmwsss.errors import MMWSSSError
    t0 = time.perf_counter()
    report = DataCheck()
    problems, counts = report.problems, report.counts
    # values our transforms and datasets would refuse; a dataset with one is
    # not listed (its maps may not even have a format)
    problems += config_value_problems(cfg, sections)
    datasets = list(_dataset_sections(cfg, sections))
    bad_values = {where for where, _ in datasets
                  if any(ln.startswith((where + '.', where + ':')) for ln in problems)}
    maps = [([], []) if where in bad_values else map_folders(ds) for where, ds in datasets]
    # every map folder listed once, several at a time, before the checks
    listings = list_folders(f.folder for folders, _ in maps for f in folders
                            if osp.isdir(f.folder))
    for (where, ds), (folders, found) in zip(datasets, maps):
        first = len(problems)
        root = ds.get('data_root')
        if root and not osp.isdir(root):
            problems.append(f'{where}.data_root = {root!r}: no such folder '
                            f'(set --cfg-options {where}.data_root=...)')
            continue
        for key in ('ann_file', 'cls_label_file'):
            path = _join(root, ds.get(key))
            if path and not osp.isfile(path):
                problems.append(f'{where}.{key}: {path} not found{_hint(path)}')
        list_file = _join(root, ds.get('ann_file'))
        ids, bad_list = _read_ids(where, list_file)
        problems += bad_list
        prefix = ds.get('data_prefix') or _default_prefix(ds.get('type'))
        img_dir = _join(root, prefix.get('img_path', ''))
        img_suffix = ds.get('img_suffix', '.jpg')
        img_ok = False
        if not osp.isdir(img_dir):
            problems.append(f'{where}.data_prefix.img_path: folder {img_dir} not found')
        elif _unreadable_folder(img_dir):
            problems.append(f'{where}.data_prefix.img_path: image folder '
                            f'{_unreadable_folder(img_dir)}')
        elif not any(f.lower().endswith(('.jpg', '.jpeg', '.png')) for f in
                     os.listdir(img_dir)[:1000]):
            problems.append(f'{where}.data_prefix.img_path: no image in {img_dir}')
        else:
            img_ok = True
        # the images (and labels) as the dataset lists them, when no id list
        # says which, or for the maps of each: its own code, whatever the ids
        # come from (a label list, COCO's json, the image folder)
        infos, id_source, classes = None, list_file, ()
        if (folders or not ids) and len(problems) == first and where not in bad_values:
            try:
                infos, classes = _dataset_images(ds)
            except (MMWSSSError, ValueError, KeyError, AssertionError, OSError) as e:
                problems.append(f'{where}: its images cannot be listed: '
                                f'{e or type(e).__name__}')
        img_paths = [osp.join(img_dir, i + img_suffix) for i in ids]
        if not ids and infos is not None:
            ids = [info['img_id'] for info in infos]
            img_paths = [info['img_path'] for info in infos]
            id_source = list_file or _join(root, ds.get('cls_label_file')) or img_dir
        if img_ok:
            problems += _check_files(where, img_paths, id_source)
            counts['images'] += len(ids)
        seg = prefix.get('seg_map_path')
        # GT is read for every listed image of a GT dataset (validation) or of a
        # WSSS dataset whose image-level labels come from it (no
        # cls_label_file; COCO takes them from its instances json); a dataset
        # trained on pseudo labels (a SaliencyPseudoLabel step) reads none
        pseudo = bool(ds.get('pseudo_labels')) or pseudo_label_step(ds)[1] is not None
        every_gt = not pseudo or bool(ds.get('pseudo_labels')) and not (
            ds.get('cls_label_file') or str(ds.get('ann_file')).endswith('.json'))
        sub_ids = []
        if seg is not None and (every_gt or ds.get('gt_subset')):
            seg_dir = _join(root, seg)
            if not osp.isdir(seg_dir):
                problems.append(f'{where}.data_prefix.seg_map_path: GT folder {seg_dir} '
                                'not found')
            elif every_gt:
                suffix = ds.get('seg_map_suffix', '.png')
                problems += _check_listed_files(where, ids, id_source, seg_dir, suffix,
                                                'GT masks')
                problems += _check_voc_official_masks(where, ids, seg_dir, suffix)
                counts['GT masks'] += len(ids)
            if ds.get('gt_subset') and osp.isdir(seg_dir):
                found_sub, sub_ids = _check_gt_subset(where, ds, ids, seg_dir, not every_gt)
                problems += found_sub
                counts['gt_subset ids'] += len(sub_ids)
        if folders or found:
            problems += [f'{where}.{line}' for line in found]
            labels = None
            map_ids = None
            if infos is not None:
                skip = set(sub_ids)  # they train on their GT masks
                map_ids = [info['img_id'] for info in infos if info['img_id'] not in skip]
                if all('cls_labels' in info for info in infos):
                    labels = {info['img_id']: [int(c) for c in info['cls_labels']]
                              for info in infos}
            # the last label a pseudo label may take: the dataset's last class
            max_class = len(classes) - 2 if classes else None
            problems += _check_maps(where, folders, ListedImages(map_ids, id_source, labels),
                                    listings, counts, max_class)
    # loaders that read the same file (a classifier's train and CAM loaders, COCO's
    # instances json) name it once
    problems[:] = merge_same_problems(problems)
    if weights:
        from .weights import check_weights, pretrained_weights
        problems += check_weights(cfg)
        counts['pretrained weight files'] += len(list(pretrained_weights(cfg)))
    report.seconds = time.perf_counter() - t0
    return report


def merge_same_problems(problems: List[str]) -> List[str]:
    """One line for the problem lines that differ only in their config key (the text
    before the first ``': '``), with the keys joined: ``'a.ann_file, b.ann_file: X
    not found'``. The order is that of the first of each."""
    keys: Dict[str, List[str]] = {}
    for line in problems:
        key, sep, rest = line.partition(': ')
        keys.setdefault(rest if sep else line, []).append(key if sep else '')
    return [f'{", ".join(dict.fromkeys(k))}: {rest}' if k[0] else rest
            for rest, k in keys.items()]


def check_data_once(cfg, sections=('train_dataloader', 'val_dataloader'),
                    weights: bool = False) -> List[str]:
    """:func:`check_data` once per node of a distributed job, the same list on every rank.

    The first rank of each node (``LOCAL_RANK`` 0) checks, since nodes may
    each have their own copy of the data; the others wait for the result. Call
    it once the process group runs (or without one: then it is ``check_data``).
    Lines seen on some nodes only are prefixed with those nodes' host names.
    """
    from mmengine.dist import all_gather_object, get_world_size
    first = os.environ.get('LOCAL_RANK', '0') == '0'
    mine = check_data_report(cfg, sections, weights).problems if first else []
    if get_world_size() == 1:
        return mine
    reports = [(host, lines) for host, lines, was_first in
               all_gather_object((socket.gethostname(), mine, first)) if was_first]
    if all(lines == reports[0][1] for _, lines in reports):
        return reports[0][1]
    return [f'[{host}] {line}' for host, lines in reports for line in lines]
