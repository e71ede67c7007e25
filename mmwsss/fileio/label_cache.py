"""Image-level labels built once per dataset, cached on disk for every rank and run.

Deriving VOC's image-level labels from 10,582 GT masks, or parsing COCO's
instances json, takes seconds to minutes; every rank of every run did it again.
:func:`cached_labels` keeps the result in a small JSON file beside the image
list, named by a key of everything it was built from (the list's bytes, each
mask's bytes, the json's bytes), so a changed input is a new key and never a
stale label. (Hashing VOC's 10,582 masks takes about 0.1 s against 0.02 s for
their size and mtime, which miss a mask rewritten within one mtime tick.)

The cache is optional: one that cannot be read as such a dict is built again
(with a log line), and a folder that cannot be written (read-only data and
``$HOME``) leaves the labels uncached, with a warning, never a failed build.
In a distributed job the first rank of each node builds it while the others
wait at a barrier, then read it (or, with no cache written, build it too).
"""
import hashlib
import json
import logging
import os
import os.path as osp
from typing import Callable, Dict, Iterable, List, Optional

from .png import atomic_write

FALLBACK_DIR = osp.join(osp.expanduser('~'), '.cache', 'mmwsss', 'labels')


def file_digest(path: str, h=None):
    """Feed the bytes of ``path`` to a sha256 (new when ``h`` is None)."""
    h = h or hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 22), b''):
            h.update(block)
    return h


def files_digest(paths: Iterable[str], h=None):
    """Feed each file's path and bytes to a sha256 (a missing file counts as such)."""
    h = h or hashlib.sha256()
    for p in paths:
        h.update(f'{p}\0'.encode())
        try:
            file_digest(p, h)
            h.update(b'\0\n')
        except FileNotFoundError:
            h.update(b'-\n')
    return h


def stat_digest(paths: Iterable[str], h=None):
    """Feed each file's path, size and mtime to a sha256: a proxy for their bytes
    that costs one ``stat`` a file (a missing file counts as such)."""
    h = h or hashlib.sha256()
    for p in paths:
        try:
            st = os.stat(p)
            h.update(f'{p}\0{st.st_size}\0{st.st_mtime_ns}\n'.encode())
        except FileNotFoundError:
            h.update(f'{p}\0-\n'.encode())
    return h


def cache_path(beside: str, kind: str, key: str) -> str:
    """``<folder of beside>/.mmwsss_cache/<stem>.<kind>.<key>.json``, or the user
    cache folder when that folder cannot be written (a read-only data mount)."""
    folder = osp.join(osp.dirname(osp.abspath(beside)), '.mmwsss_cache')
    name = f'{osp.splitext(osp.basename(beside))[0]}.{kind}.{key[:16]}.json'
    try:
        os.makedirs(folder, exist_ok=True)
        if os.access(folder, os.W_OK):
            return osp.join(folder, name)
    except OSError:
        pass
    return osp.join(FALLBACK_DIR, name)  # may not be writable either: see _write


def _valid_labels(labels, num_classes: Optional[int], ids=None) -> bool:
    """``{img_id: [class ids]}`` with integer ids in ``[0, num_classes)``, and exactly
    the image ids ``ids`` when given."""
    if not isinstance(labels, dict) or (ids is not None and labels.keys() != ids):
        return False
    for img_id, ids in labels.items():
        if not isinstance(ids, list) or not all(
                type(c) is int and 0 <= c and (num_classes is None or c < num_classes)
                for c in ids):
            return False
    return True


def _log(msg: str, level: int = logging.INFO) -> None:
    from mmengine.logging import print_log
    print_log(msg, logger='current', level=level)


def _read(path: str, num_classes: Optional[int] = None,
          ids=None) -> Optional[Dict[str, List[int]]]:
    if not osp.lexists(path):
        return None
    try:
        if not osp.isfile(path):  # a folder, a FIFO (would block), a dangling link
            raise ValueError('not a regular file')
        with open(path, encoding='utf-8') as f:
            labels = json.load(f)['labels']
    except (OSError, ValueError, KeyError, TypeError, IndexError, RecursionError) as e:
        _log(f'label cache {path} ignored ({type(e).__name__}: {e}); building the '
             'labels again')
        return None  # damaged: build again
    # a cache is only ever a copy: one of another shape, or with an id outside the
    # classes (written by hand, or by another version), is built again, never used
    if not _valid_labels(labels, num_classes, ids):
        _log(f'label cache {path} ignored (not {{image id: [class ids]}} of this '
             'dataset); building the labels again')
        return None
    return labels


def _write(path: str, labels: Dict[str, List[int]]) -> bool:
    """Write the cache; False (with a warning) where it cannot be written."""
    body = json.dumps(dict(labels=labels), separators=(',', ':')).encode()
    try:
        if osp.lexists(path) and not osp.isfile(path):
            if osp.isdir(path) and not osp.islink(path):
                raise IsADirectoryError(f'{path} is a folder')
            os.remove(path)  # a FIFO or a dangling link in the cache's place
        os.makedirs(osp.dirname(path), exist_ok=True)
        atomic_write(path, lambda f: f.write(body))
        return True
    except OSError as e:
        _log(f'label cache {path} not written ({type(e).__name__}: {e}); going on '
             'without it (the labels are built again by each run)', logging.WARNING)
        return False


def cached_labels(path: str, build: Callable[[], Dict[str, List[int]]],
                  num_classes: Optional[int] = None,
                  ids: Optional[Iterable[str]] = None) -> Dict[str, List[int]]:
    """``build()``'s ``{img_id: [class ids]}``, through the cache file ``path``.

    A cache file whose content is not such a dict of integer ids in
    ``[0, num_classes)`` (when given), for exactly the image ids ``ids`` (when
    given), counts as absent and is built again.

    Under ``torch.distributed`` the rank with ``LOCAL_RANK`` 0 of each node
    builds and writes (atomically), the others wait at a barrier and read, so
    a node builds once and shows one progress bar. An error while building is
    raised by that rank. Where no cache could be written (nor read), each rank
    builds the labels itself: a cache is never needed for a build to go on.
    """
    ids = None if ids is None else set(ids)
    labels = _read(path, num_classes, ids)
    if labels is not None:
        return labels
    from mmengine.dist import barrier, get_world_size
    distributed = get_world_size() > 1
    builder = not distributed or os.environ.get('LOCAL_RANK', '0') == '0'
    error = None
    if builder:
        try:
            labels = build()
            _write(path, labels)
        except BaseException as e:  # reach the barrier first, or the others hang
            error = e
    if distributed:
        barrier()
    if error is not None:
        raise error
    if labels is None:
        labels = _read(path, num_classes, ids)
        if labels is None:  # not written (read-only folder) or the builder failed
            labels = build()
    return labels
