"""The lock on an output folder, held by the live main process only."""
import contextlib
import json
import os
import os.path as osp
import socket
import sys
import time
from typing import Callable, Iterator, Optional


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
