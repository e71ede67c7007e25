"""Worker processes that each run one job at a time and notice a dead worker.

``multiprocessing.Pool`` replaces a worker that was killed (the kernel's OOM
killer, a ``kill -9``, a crash in a C extension) and loses the job it held:
whoever waits for that result waits for ever. Here every worker has its own
pipe and the pool knows which job each one holds, so a worker that dies is an
error naming its job and how the process ended.

Every worker here, and every worker of :func:`mmwsss.parallel.track_parallel`,
calls :func:`die_with_parent` first: a main process that is killed (``kill``,
``timeout``, SIGKILL) leaves no worker behind.
"""
import ctypes
import multiprocessing as mp
import os
import signal
import sys
import threading
import time
from collections import deque
from multiprocessing.connection import wait
from typing import Any, Callable, Optional


class WorkerDied(RuntimeError):
    """A worker process of a :class:`WorkerPool` ended while it held a job."""


_THREAD_ENV = ('OMP_NUM_THREADS', 'MKL_NUM_THREADS', 'OPENBLAS_NUM_THREADS',
               'NUMEXPR_NUM_THREADS')


def limit_threads(n: int) -> None:
    """Size this process's thread pools to ``n``: torch and OpenCV when loaded,
    and the OpenMP/BLAS environment for what loads later."""
    for name in _THREAD_ENV:
        os.environ[name] = str(n)
    if 'torch' in sys.modules:
        sys.modules['torch'].set_num_threads(n)
    if 'cv2' in sys.modules:
        sys.modules['cv2'].setNumThreads(n)


_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def die_with_parent(parent: int, poll: float = 0.5) -> None:
    """End this process (a worker) as soon as the process ``parent`` ends.

    A worker whose main process was killed would otherwise live on as an
    orphan, busy with work nobody reads. On Linux the kernel sends this process
    SIGKILL when its parent ends (``prctl(PR_SET_PDEATHSIG)``); everywhere, and
    for a parent thread that ends before its process, a daemon thread checks
    every ``poll`` seconds that ``parent`` is still this process's parent.
    Call it first thing in the worker, with the parent's pid taken before the
    fork (a parent that is already gone ends the worker at once).
    """
    if sys.platform.startswith('linux'):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):  # no libc to ask: the thread below does it
            pass
    if os.getppid() != parent:  # gone between the fork and the prctl
        os._exit(1)

    def watch():
        while os.getppid() == parent:
            time.sleep(poll)
        os._exit(1)

    threading.Thread(target=watch, name='die_with_parent', daemon=True).start()


def start_worker(parent: int, initializer: Optional[Callable] = None,
                 initargs: tuple = ()) -> None:
    """A pool's worker initializer: :func:`die_with_parent`, SIGTERM's default
    action (the pool ends a worker with it; a tool's handler, inherited through
    the fork, would turn it into an exception that the worker reports as a job's
    result and lives on), then ``initializer``."""
    die_with_parent(parent)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if initializer is not None:
        initializer(*initargs)


def _serve(conn, func: Callable, threads: Optional[int], parent: int) -> None:
    start_worker(parent)
    # Ctrl-C reaches the whole process group: the main process handles it and
    # ends the workers, which must not print a traceback each
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if threads is not None:
        # a forked worker inherits the parent's pool sizes (torch: one thread a
        # core): N workers would each run as many threads as there are cores
        limit_threads(threads)
    while True:
        try:
            job = conn.recv()
        except EOFError:  # the main process is gone
            return
        if job is None:
            return
        try:
            reply = (True, func(job))
        except Exception as e:  # raised in the main process by Result.get
            reply = (False, e)
        try:
            conn.send(reply)
        except Exception:  # a result or an exception that does not pickle
            conn.send((False, RuntimeError(f'{type(reply[1]).__name__}: {reply[1]}')))


def how_it_ended(exitcode: Optional[int]) -> str:
    """``'signal 9 (SIGKILL)'``, ``'exit code 1'``: a process's end in words."""
    if exitcode is None:
        return 'an unknown cause'
    if exitcode < 0:
        try:
            return f'signal {-exitcode} ({signal.Signals(-exitcode).name})'
        except ValueError:
            return f'signal {-exitcode}'
    return f'exit code {exitcode}'


class Result:
    """The pending result of one job (the shape of ``AsyncResult``)."""

    def __init__(self, pool: 'WorkerPool', job: Any) -> None:
        self._pool, self.job, self._reply = pool, job, None

    def ready(self) -> bool:
        """Whether the result is in (never blocks)."""
        if self._reply is None:
            self._pool._collect(timeout=0)
        return self._reply is not None

    def get(self) -> Any:
        """The job's value; the job's exception, or :class:`WorkerDied`."""
        while self._reply is None:
            self._pool._collect(timeout=None)
        ok, value = self._reply
        if not ok:
            raise value
        return value


class WorkerPool:
    """``num_workers`` processes that run ``func(job)``, one job each at a time.

    Jobs wait here in order until a worker is free. A worker that dies, busy
    or idle, raises :class:`WorkerDied` from the next :meth:`Result.ready` or
    :meth:`Result.get`, naming its job (``describe(job)``), its pid and its
    exit code or signal; the pool is not usable after that.

    Args:
        func (Callable): a picklable function of one job.
        num_workers (int): worker processes (at least 1).
        describe (Callable): a job in words, for the error (default ``repr``).
        threads (int, optional): threads each worker's torch, OpenCV and
            OpenMP/BLAS pools use (:func:`limit_threads`); default 1, as the
            workers are the parallelism. None keeps the parent's.

    Example:
        >>> pool = WorkerPool(refine, 4, describe=lambda job: job[0])
        >>> results = [pool.submit(job) for job in jobs]
        >>> values = [r.get() for r in results]
        >>> pool.terminate()
    """

    def __init__(self, func: Callable, num_workers: int,
                 describe: Callable[[Any], str] = repr, threads: Optional[int] = 1) -> None:
        if num_workers < 1:
            raise ValueError(f'num_workers must be >= 1, got {num_workers}')
        ctx = mp.get_context()
        self._describe = describe
        self._queue = deque()
        self._workers = []  # [process, pipe end, Result it runs or None]
        for _ in range(num_workers):
            here, there = ctx.Pipe()
            proc = ctx.Process(target=_serve, args=(there, func, threads, os.getpid()),
                               daemon=True)
            proc.start()
            there.close()
            self._workers.append([proc, here, None])

    @property
    def pids(self) -> list:
        """The worker processes' ids."""
        return [w[0].pid for w in self._workers]

    def submit(self, job: Any) -> Result:
        """Queue ``job``; it starts as soon as a worker is free."""
        result = Result(self, job)
        self._queue.append(result)
        self._dispatch()
        return result

    def _died(self, worker) -> WorkerDied:
        proc, _, result = worker
        proc.join(5)  # the sentinel fires just before the exit code is known
        doing = (f'while running {self._describe(result.job)}' if result is not None else
                 'while idle')
        return WorkerDied(f'a worker process (pid {proc.pid}) ended with '
                          f'{how_it_ended(proc.exitcode)} {doing}; the run stops here '
                          '(a SIGKILL is often the kernel\'s out-of-memory killer: fewer '
                          'workers need less memory)')

    def _dispatch(self) -> None:
        for worker in self._workers:
            if worker[2] is not None or not self._queue:
                continue
            if not worker[0].is_alive():
                raise self._died(worker)
            result = self._queue.popleft()
            try:
                worker[1].send(result.job)
            except (BrokenPipeError, ConnectionResetError):
                worker[2] = result
                raise self._died(worker) from None
            worker[2] = result

    def _collect(self, timeout: Optional[float]) -> None:
        """Take in the replies that arrive within ``timeout`` seconds (None: wait
        for at least one), then hand out the waiting jobs."""
        busy = [w for w in self._workers if w[2] is not None]
        if not busy:
            self._dispatch()
            busy = [w for w in self._workers if w[2] is not None]
            if not busy:
                raise RuntimeError('WorkerPool: a result was asked for that no worker runs')
        wait([w[1] for w in busy] + [w[0].sentinel for w in busy], timeout)
        for worker in busy:
            proc, conn, result = worker
            if conn.poll():  # a reply (read first: a worker may exit right after it)
                try:
                    result._reply = conn.recv()
                except (EOFError, ConnectionResetError):
                    raise self._died(worker) from None
                worker[2] = None
            elif not proc.is_alive():
                raise self._died(worker)
        self._dispatch()

    def terminate(self) -> None:
        """End every worker now (jobs still running are dropped)."""
        for proc, conn, _ in self._workers:
            if proc.is_alive():
                proc.terminate()
            conn.close()
        for proc, _, _ in self._workers:
            proc.join(5)
