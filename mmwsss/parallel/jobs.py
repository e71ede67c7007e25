"""A parallel loop over jobs with a progress bar, whose workers end with the main
process however it ends."""
import os
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Callable, Iterable, Iterator, Optional, Sequence

from tqdm import tqdm

from .worker_pool import start_worker


def track_parallel(func: Callable, jobs: Sequence, nproc: int = 1, desc: str = '',
                   initializer: Optional[Callable[[], None]] = None, chunksize: int = 8,
                   quiet: bool = False) -> Iterator:
    """Yield ``func(job)`` for every job (in any order), with a progress bar.

    ``nproc > 1`` runs the jobs in a process pool whose workers first call
    ``initializer()`` (arguments bound with ``functools.partial``); otherwise they
    run here, after the same call.
    A worker that dies (killed, out of memory) ends the run with an error:
    ``concurrent.futures`` notices a lost worker, where ``multiprocessing.Pool``
    would wait for its task forever. Workers end with the main process, however
    it ends (:func:`~mmwsss.parallel.worker_pool.die_with_parent`).
    """
    bar = dict(total=len(jobs), desc=desc, disable=quiet)
    if nproc > 1 and len(jobs) > 1:
        pool = ProcessPoolExecutor(nproc, initializer=start_worker,
                                   initargs=(os.getpid(), initializer, ()))
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
            initializer()
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
