"""What every file-writing tool shares: one settings guard and one parallel loop.

A tool writes into an output folder whose ``meta.json`` records the settings the
files were made with. A rerun with the same settings resumes (files already there
are kept); a rerun with other settings stops unless ``force`` is given.
"""
import json
import os
import os.path as osp
from multiprocessing import Pool
from typing import Callable, Iterable, Iterator, Optional, Sequence

from tqdm import tqdm

from mmwsss.fileio.png import atomic_write


def _jsonable(obj):
    return json.loads(json.dumps(obj, default=str))


def guard_output_dir(out_dir: str, settings: dict, force: bool = False,
                     extra: Optional[dict] = None, write: bool = True) -> None:
    """Check ``out_dir/meta.json`` against ``settings`` and (re)write it.

    Args:
        out_dir (str): the tool's output folder (created when missing).
        settings (dict): everything the outputs depend on (json-serialisable).
        force (bool): rewrite ``meta.json`` even when the settings differ.
        extra (dict, optional): recorded beside the settings, not compared
            (the config path, the number of images).
        write (bool): write ``meta.json`` (False on non-zero ranks).

    Raises:
        SystemExit: the folder holds outputs made with other settings.
    """
    os.makedirs(out_dir, exist_ok=True)
    meta_path = osp.join(out_dir, 'meta.json')
    settings = _jsonable(settings)
    if osp.isfile(meta_path) and not force:
        with open(meta_path) as f:
            old = json.load(f)
        if old.get('settings') != settings:
            raise SystemExit(f'{out_dir} holds outputs made with other settings '
                             f'({old.get("settings")}, now {settings}); use another '
                             'output folder or --force to rewrite it')
    if write:
        data = json.dumps(dict(_jsonable(extra or {}), settings=settings), indent=2).encode()
        atomic_write(meta_path, lambda f: f.write(data))


class OutputLock:
    """An advisory lock on an output folder (``<out_dir>/.lock`` with the holder's
    pid and host), so that two runs never write a mixture into one folder. A lock
    left by a process that is gone (same host) is taken over.

    Example:
        >>> with OutputLock(out_dir):
        ...     write_everything()
    """

    def __init__(self, out_dir: str) -> None:
        self.path = osp.join(out_dir, '.lock')

    def __enter__(self):
        import socket
        os.makedirs(osp.dirname(self.path), exist_ok=True)
        me = f'{os.getpid()} {socket.gethostname()}'
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = open(self.path).read().split()
                pid, host = (int(holder[0]), holder[1]) if len(holder) == 2 else (None, None)
                if pid is not None and host == socket.gethostname() and not _alive(pid):
                    os.remove(self.path)  # stale: its process is gone
                    continue
                raise SystemExit(f'{osp.dirname(self.path)} is in use by process {pid} on '
                                 f'{host} ({self.path}); wait for it, or remove the lock '
                                 'file if that process is gone')
            with os.fdopen(fd, 'w') as f:
                f.write(me)
            return self
        raise SystemExit(f'cannot take the lock {self.path}')

    def __exit__(self, *exc):
        try:
            os.remove(self.path)
        except FileNotFoundError:
            pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, another user's
        return True
    return True


def file_fingerprint(path: str) -> dict:
    """Size and modification time of a file: a file replaced in place (a new
    checkpoint at the same path, a regenerated CAM store) no longer matches."""
    st = os.stat(path)
    return dict(path=osp.abspath(path), size=st.st_size, mtime_ns=st.st_mtime_ns)


def is_done(path: str) -> bool:
    """An output a rerun may keep: present and not empty (an interrupted write
    outside :func:`atomic_write` can leave a zero-byte file)."""
    return osp.isfile(path) and os.path.getsize(path) > 0


def track_parallel(func: Callable, jobs: Sequence, nproc: int = 1, desc: str = '',
                   initializer: Optional[Callable] = None, initargs: tuple = (),
                   chunksize: int = 8, quiet: bool = False) -> Iterator:
    """Yield ``func(job)`` for every job (in any order), with a progress bar.

    ``nproc > 1`` runs the jobs in a process pool whose workers first call
    ``initializer(*initargs)``; otherwise they run here, after the same call.
    """
    bar = dict(total=len(jobs), desc=desc, disable=quiet)
    if nproc > 1 and len(jobs) > 1:
        with Pool(nproc, initializer=initializer, initargs=initargs) as pool:
            yield from tqdm(pool.imap_unordered(func, jobs, chunksize=chunksize), **bar)
    else:
        if initializer is not None:
            initializer(*initargs)
        for job in tqdm(jobs, **bar):
            yield func(job)


def run_parallel(func: Callable, jobs: Iterable, **kwargs) -> None:
    """:func:`track_parallel` for jobs whose results are not needed."""
    for _ in track_parallel(func, list(jobs), **kwargs):
        pass
