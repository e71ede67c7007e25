"""What every file-writing tool shares: a settings guard, a lock and a parallel loop.

A tool writes into an output folder whose ``meta.json`` records the settings the
files were made with. A rerun with the same settings resumes (files already there
are kept); a rerun with other settings stops unless ``force`` is given.
"""
import contextlib
import json
import os
import os.path as osp
import socket
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Callable, Dict, Iterable, Iterator, Optional, Sequence

from tqdm import tqdm

from mmwsss.fileio.png import atomic_write
from mmwsss.utils.worker_pool import start_worker


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
        try:
            with open(meta_path, encoding='utf-8') as f:
                old = json.load(f)
        except (ValueError, UnicodeDecodeError) as e:
            raise SystemExit(f'{meta_path}: not valid JSON ({e}); it records the settings of '
                             'the outputs beside it: restore it, or use --force to rewrite '
                             'them all') from None
        if not isinstance(old, dict):
            raise SystemExit(f'{meta_path}: a JSON {type(old).__name__}, not the object of '
                             'settings this tool writes; restore it, or use --force to '
                             'rewrite the outputs')
        if old.get('settings') != settings:
            raise SystemExit(f'{out_dir} holds outputs made with other settings '
                             f'({old.get("settings")}, now {settings}); use another '
                             'output folder or --force to rewrite it')
    if write:
        data = json.dumps(dict(_jsonable(extra or {}), settings=settings), indent=2).encode()
        atomic_write(meta_path, lambda f: f.write(data))


_MAP_KEYS = ('cam_path', 'sal_path')
_INPUT_NAMES = dict(img_path='image', seg_map_path='GT label map', sal_path='saliency map',
                    cam_path='CAM store')


def dataset_input_dirs(dataset, skip: Sequence[str] = ()) -> Dict[str, str]:
    """The folders a built dataset reads (its ``data_prefix``: images, GT label
    maps, saliency maps, CAM store; not the keys in ``skip``), named for
    messages; wrappers (``RepeatDataset``, ``ConcatDataset``) are unwrapped."""
    found = {}
    inner = getattr(dataset, 'datasets', None) or [getattr(dataset, 'dataset', None)]
    for d in inner:
        if d is not None and d is not dataset:
            found.update(dataset_input_dirs(d, skip))
    for key, folder in (getattr(dataset, 'data_prefix', None) or {}).items():
        if isinstance(folder, str) and folder and key not in skip:
            found[f'{_INPUT_NAMES.get(key, key)} folder ({key})'] = folder
    return found


def config_input_dirs(dataset_cfg, skip: Sequence[str] = ()) -> Dict[str, str]:
    """The folders a dataset config reads (``data_root``, or ``maps_root`` for
    the maps, joined with each ``data_prefix`` entry but the keys in
    ``skip``), before it is built; wrappers are unwrapped."""
    found = {}
    inner = dataset_cfg.get('datasets') or [dataset_cfg.get('dataset')]
    for d in inner if isinstance(inner, (list, tuple)) else [inner]:
        if isinstance(d, dict):
            found.update(config_input_dirs(d, skip))
    root = dataset_cfg.get('data_root') or ''
    # a WSSS dataset joins its maps to maps_root when it has one
    maps_root = dataset_cfg.get('maps_root')
    prefix = dataset_cfg.get('data_prefix')
    if prefix is None:  # the class's default (VOCWSSSDataset: JPEGImages, ...)
        prefix = _default_data_prefix(dataset_cfg.get('type'))
    for key, folder in (prefix or {}).items():
        if isinstance(folder, str) and folder and key not in skip:
            base = maps_root if maps_root is not None and key in _MAP_KEYS else root
            found[f'{_INPUT_NAMES.get(key, key)} folder ({key})'] = osp.join(base, folder)
    return found


def all_config_input_dirs(cfg, skip: Sequence[str] = ()) -> Dict[str, str]:
    """The folders every split of a config reads (each ``*_dataloader``'s
    dataset: train, val, test and the CAM split alike, see
    :func:`config_input_dirs`; not the ``data_prefix`` keys in ``skip``), each
    named with its split, so that an output is kept away from all of them, not
    only from the split a tool reads."""
    found = {}
    for key in cfg.keys():
        loader = cfg.get(key)
        if str(key).endswith('_dataloader') and isinstance(loader, dict) and \
                isinstance(loader.get('dataset'), dict):
            for what, folder in config_input_dirs(loader['dataset'], skip).items():
                found[f'{what} of {key}'] = folder
    return found


def _default_data_prefix(type_name) -> Optional[dict]:
    import inspect
    from mmseg.registry import DATASETS
    try:
        cls = DATASETS.get(type_name) if isinstance(type_name, str) else type_name
        param = inspect.signature(cls.__init__).parameters.get('data_prefix')
    except Exception:  # noqa: BLE001  (an unknown type: the Runner names it later)
        return None
    default = getattr(param, 'default', None)
    return default if isinstance(default, dict) else None


def check_outside_inputs(out_dir: str, inputs: Dict[str, Optional[str]],
                         flag: str = '--out-dir') -> None:
    """Refuse an output folder that is an input folder or lies inside one.

    A tool's outputs share names with inputs (``<img_id>.png`` is a pseudo
    label, a saliency map and a GT mask; ``meta.json`` is every tool's), and
    ``--force`` removes files it does not list: written into an input folder
    they would replace or delete the inputs. Remote paths (``s3://``...) are
    not checked.

    Args:
        out_dir (str): the output folder.
        inputs (dict): ``{what it is: folder}``; None values are skipped.
        flag (str): the option that named ``out_dir``, for the message.

    Raises:
        SystemExit: naming the output and the input folder.
    """
    out = osp.realpath(out_dir)
    for what, folder in inputs.items():
        if not folder or '://' in str(folder):
            continue
        src = osp.realpath(folder)
        if out == src or out.startswith(src.rstrip(os.sep) + os.sep):
            where = 'is' if out == src else 'lies inside'
            raise SystemExit(f'{flag} {out_dir} {where} the {what} {folder}: the outputs '
                             'would be written over or among the inputs; choose a folder '
                             'outside it')


def refuse_launcher(tool: str) -> None:
    """Stop a one-process tool started by a launcher (``torchrun``, Slurm's
    ``srun`` with ``WORLD_SIZE``): every rank would run the whole job into the
    same folder, and all but one would be refused by its lock halfway."""
    world = os.environ.get('WORLD_SIZE', '1')
    if world.isdigit() and int(world) > 1:
        raise SystemExit(f'{tool} runs in one process (its --nproc N gives it N workers); it '
                         f'was started as one of {world} ranks of a launcher: start it once, '
                         'without torchrun')


class OutputLock:
    """A lock on an output folder, so that two runs never write a mixture into it.

    The lock is the kernel's (``flock`` on ``<out_dir>/.lock``), held from
    :meth:`__enter__` to :meth:`__exit__`: the kernel releases it when the holder
    ends, however it ends, so a lock is never stale and nothing guesses whether
    a pid is alive (a pid means nothing in another container's PID namespace on
    the same machine). Two runs on one machine, containers included, and, where
    the file system supports it (local disks, NFSv4), on several machines,
    exclude each other. The file records the holder (host, pid, command, start
    time) for the message the next run gets; its content is never trusted: an
    empty or unreadable ``.lock`` left behind is just a file to lock.

    Only the process that took the lock holds it: ``flock`` belongs to the
    open file, which a forked child (a pool worker) would share and keep after
    its parent was killed, so every fork closes the child's copy
    (:func:`_close_locks_in_child`); ``exec`` closes it too (``O_CLOEXEC``).

    Example:
        >>> with OutputLock(out_dir):
        ...     write_everything()

    Raises:
        SystemExit: another run holds the folder, named as its lock file names it.
    """

    def __init__(self, out_dir: str) -> None:
        self.path = osp.join(out_dir, '.lock')
        self._fd = None

    def __enter__(self):
        import fcntl
        os.makedirs(osp.dirname(self.path), exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read_holder(fd)
                os.close(fd)
                raise SystemExit(f'{osp.dirname(self.path)} is in use by {holder}; wait for '
                                 f'that run to end (its lock: {self.path})') from None
            except BaseException:
                os.close(fd)
                raise
            # the holder before us may have removed the file between our open and our
            # lock: a lock on a removed file excludes nobody, so open the path again
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        self._fd, self._owner = fd, os.getpid()
        _HELD_LOCKS.add(fd)
        me = json.dumps(dict(host=socket.gethostname(), pid=os.getpid(),
                             command=' '.join(sys.argv),
                             started=time.strftime('%Y-%m-%d %H:%M:%S %z'))).encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, me, 0)
        return self

    def __exit__(self, *exc):
        if self._fd is None or os.getpid() != self._owner:  # a forked child's copy
            return
        try:  # removed while still locked: whoever opened it before re-opens the path
            os.remove(self.path)
        except FileNotFoundError:
            pass
        _HELD_LOCKS.discard(self._fd)
        os.close(self._fd)  # releases the lock
        self._fd = None


_HELD_LOCKS = set()  # the descriptors of the OutputLocks this process holds


def _close_locks_in_child() -> None:
    """Close, in a forked child, its copies of its parent's lock descriptors.

    A child's copy would hold the lock as long as the child lives (``flock`` is
    released when the last descriptor of the open file closes), and a worker
    orphaned by a killed main process would keep the folder locked, every rerun
    refused "in use by process <dead pid>". Closing a copy never unlocks the
    parent's (``LOCK_UN`` would).
    """
    for fd in _HELD_LOCKS:
        try:
            os.close(fd)
        except OSError:
            pass
    _HELD_LOCKS.clear()


if hasattr(os, 'register_at_fork'):
    os.register_at_fork(after_in_child=_close_locks_in_child)


def _read_holder(fd: int) -> str:
    """The holder a lock file names, in words; "another run" when it names none
    (written by an older mmwsss, or not yet written by a run that has just
    taken the lock)."""
    try:
        info = json.loads(os.pread(fd, 4096, 0).decode())
        return (f'process {int(info["pid"])} on {info["host"]} (started {info["started"]}: '
                f'{info["command"]})')
    except (ValueError, TypeError, KeyError, UnicodeDecodeError, OSError):
        return 'another run (its lock file names no holder)'


@contextlib.contextmanager
def rank_zero_lock(out_dir: str, check: Optional[Callable[[], None]] = None) -> Iterator:
    """:class:`OutputLock` for a job of several processes (a DDP run): rank 0
    takes the lock, runs ``check()`` under it (the settings guard, which may
    write ``meta.json``) and holds the lock until the block ends; the other
    ranks wait for its verdict over the process group and stop with rank 0's
    message, so that no rank writes into a folder that another run holds, or
    holds with other settings. Without a process group: the lock and the check.

    Call it on every rank, after the process group has started, and keep every
    write of every rank inside the block (rank 0 leaves it last: the job's
    final collective, e.g. a metric's gather, keeps it there).

    Raises:
        SystemExit: the folder is in use, or ``check`` refused it.
    """
    from mmengine.dist import broadcast_object_list, get_dist_info
    rank, world_size = get_dist_info()
    with contextlib.ExitStack() as stack:
        error = None
        if rank == 0:
            try:
                stack.enter_context(OutputLock(out_dir))
                if check is not None:
                    check()
            except (Exception, SystemExit) as e:  # every rank hears of it
                error = e
        if world_size > 1:
            verdict = [None if error is None else (str(error) or type(error).__name__)]
            broadcast_object_list(verdict, src=0)
            if rank != 0 and verdict[0] is not None:
                raise SystemExit(f'{verdict[0]} (from rank 0)')
        if error is not None:
            raise error
        yield


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
    A worker that dies (killed, out of memory) ends the run with an error:
    ``concurrent.futures`` notices a lost worker, where ``multiprocessing.Pool``
    would wait for its task forever. Workers end with the main process, however
    it ends (:func:`~mmwsss.utils.worker_pool.die_with_parent`).
    """
    bar = dict(total=len(jobs), desc=desc, disable=quiet)
    if nproc > 1 and len(jobs) > 1:
        pool = ProcessPoolExecutor(nproc, initializer=start_worker,
                                   initargs=(os.getpid(), initializer, initargs))
        try:
            yield from tqdm(pool.map(func, jobs, chunksize=chunksize), **bar)
        except BrokenProcessPool as e:
            raise RuntimeError(f'{desc or "a parallel job"}: a worker process died '
                               '(killed, or out of memory?)') from e
        except BaseException:  # Ctrl-C, SIGTERM, an error, a caller that stopped reading
            _end_workers(pool)
            raise
        finally:
            pool.shutdown()
    else:
        if initializer is not None:
            initializer(*initargs)
        for job in tqdm(jobs, **bar):
            yield func(job)


def _end_workers(pool: ProcessPoolExecutor) -> None:
    """End a pool's workers now: ``shutdown`` alone would wait for the jobs they
    run and the chunks they hold (``concurrent.futures`` has no public way to
    reach its processes)."""
    procs = list((getattr(pool, '_processes', None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in procs:
        proc.terminate()
    for proc in procs:
        proc.join(5)


def run_parallel(func: Callable, jobs: Iterable, **kwargs) -> None:
    """:func:`track_parallel` for jobs whose results are not needed."""
    for _ in track_parallel(func, list(jobs), **kwargs):
        pass
