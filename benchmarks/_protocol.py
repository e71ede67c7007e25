"""The measurement protocol every benchmark here follows (issue 22).

On a shared 2-core machine a whole-run timing swings by 30 %: other work takes
the cores for seconds at a time, so two variants timed one after the other
(a round of A, then a round of B) see different machines. The protocol:

1. **Pinned threads**, the same for every variant: :func:`pin_threads` before
   numpy, OpenCV or torch start their pools (call it first in the script).
2. **Variants interleaved per item** (an image, a batch): for each item, every
   variant runs in turn, k times, in rotating order, so a burst of foreign load
   hits all variants of that item alike.
3. **Best of k per item**: the fastest of k repeats is the work itself; the
   slower ones are the work plus interference.
4. **Median over items**, and the ratio of a variant against the baseline as
   the median over items of the per-item ratio (paired).
5. **The whole run repeated** ``runs`` ≥ 3 times; the report gives the median
   over runs and the spread, (max − min) / median, of every figure.
6. **Which clock**: ``clock='cpu'`` times the calling thread's CPU time
   (``time.thread_time``), which does not count the time the thread waits
   while other processes hold the cores: with a load of 6 on 2 cores, a call
   of a few ms is preempted in every one of k repeats and its wall time
   doubles, while its CPU time stays. Use it for one-thread work whose files
   are in the page cache; ``clock='wall'`` (default) for anything that waits
   on other processes or threads (worker pools, I/O), which CPU time hides.

Usage::

    from _protocol import pin_threads
    pin_threads(1)             # before numpy / cv2 / torch are imported
    import numpy as np ...
    from _protocol import run_protocol, format_report
    runs = run_protocol(items, dict(base=f0, new=f1), baseline='base', k=5, runs=3)
    print(format_report(runs, baseline='base', unit='ms', scale=1e3))

This file imports nothing heavy at module level, so that :func:`pin_threads`
can run before numpy is imported.
"""
import gc
import os
import statistics
import sys
import time
from typing import Callable, Dict, List, Optional, Sequence

_THREAD_ENV = ('OMP_NUM_THREADS', 'MKL_NUM_THREADS', 'OPENBLAS_NUM_THREADS',
               'NUMEXPR_NUM_THREADS', 'VECLIB_MAXIMUM_THREADS')


def pin_threads(n: int = 1) -> Dict[str, object]:
    """Pin the thread pools of BLAS/OpenMP (environment), OpenCV and torch to ``n``.

    The environment variables only take effect in a process that has not yet
    loaded numpy/torch (and in the worker processes it starts), so call this
    first thing in the script. OpenCV and torch are set directly as well.

    Returns:
        dict: what was set, for the report (e.g. ``{'threads': 1, ...}``).
    """
    late = [m for m in ('numpy', 'torch') if m in sys.modules]
    for k in _THREAD_ENV:
        os.environ[k] = str(n)
    done = dict(threads=n)
    try:
        import cv2
        cv2.setNumThreads(n)
        done['cv2'] = cv2.getNumThreads()
    except ImportError:
        pass
    try:
        import torch
        torch.set_num_threads(n)
        done['torch'] = torch.get_num_threads()
    except ImportError:
        pass
    if late:  # the BLAS pools of these already started with their own sizes
        done['imported_before_pinning'] = late
    return done


CLOCKS = dict(wall=time.perf_counter, cpu=time.thread_time)


def time_interleaved(items: Sequence,
                     variants: Dict[str, Callable],
                     k: int = 5,
                     before_each: Optional[Callable] = None,
                     progress: Optional[str] = None,
                     clock: str = 'wall') -> Dict[str, List[float]]:
    """One run: each item through every variant, k times, interleaved.

    For item i the variants run in a rotating order (the first variant of
    repeat r is variant ``(i + r) % V``), so no variant always runs first (cold
    caches) or last. The garbage collector is off while a call is timed and
    runs between items.

    Args:
        items (Sequence): what each variant takes, one at a time.
        variants (dict[str, callable]): name -> ``f(item)``.
        k (int): repeats per item and variant; the best is kept.
        before_each (callable, optional): ``before_each(index, item)``, untimed,
            before every call (e.g. to seed the random augmentations so that
            every variant and repeat does the same work).
        progress (str, optional): a tqdm description; no bar when None.
        clock (str): ``'wall'`` or ``'cpu'`` (this thread's CPU time), see above.

    Returns:
        dict[str, list[float]]: name -> best seconds per item.
    """
    now = CLOCKS[clock]
    names = list(variants)
    best = {n: [] for n in names}
    it = enumerate(items)
    if progress:
        from tqdm import tqdm
        it = tqdm(it, total=len(items), desc=progress, leave=False)
    for i, item in it:
        times = {n: float('inf') for n in names}
        gc.collect()
        for r in range(k):
            for j in range(len(names)):
                name = names[(i + r + j) % len(names)]
                if before_each is not None:
                    before_each(i, item)
                gc.disable()
                try:
                    t = now()
                    variants[name](item)
                    dt = now() - t
                finally:
                    gc.enable()
                times[name] = min(times[name], dt)
        for n in names:
            best[n].append(times[n])
    return best


def summarize_run(best: Dict[str, List[float]], baseline: Optional[str] = None) -> dict:
    """Median over items of each variant, and each variant's paired ratio
    (median over items of variant / baseline) when ``baseline`` is given."""
    out = {'median': {n: statistics.median(v) for n, v in best.items()}}
    if baseline is not None:
        base = best[baseline]
        out['ratio'] = {n: statistics.median(a / b for a, b in zip(v, base))
                        for n, v in best.items()}
    return out


def run_protocol(items: Sequence,
                 variants: Dict[str, Callable],
                 baseline: Optional[str] = None,
                 k: int = 5,
                 runs: int = 3,
                 before_each: Optional[Callable] = None,
                 warmup: int = 3,
                 clock: str = 'wall') -> List[dict]:
    """The whole protocol: ``runs`` repeats of :func:`time_interleaved`.

    Args:
        items, variants, k, before_each, clock: as in :func:`time_interleaved`.
        baseline (str, optional): the variant the ratios are taken against.
        runs (int): whole runs (≥ 3 for a figure with a spread).
        warmup (int): items run once through every variant first, untimed
            (lazy imports, page cache).

    Returns:
        list[dict]: one :func:`summarize_run` dict per run, plus ``'best'``
        (the per-item best seconds).
    """
    for i, item in enumerate(items[:warmup]):
        for f in variants.values():
            if before_each is not None:
                before_each(i, item)
            f(item)
    out = []
    for r in range(runs):
        best = time_interleaved(items, variants, k, before_each,
                                progress=f'run {r + 1}/{runs}', clock=clock)
        s = summarize_run(best, baseline)
        s['best'] = best
        out.append(s)
    return out


def spread(values: Sequence[float]) -> float:
    """(max − min) / median: 0.03 means the runs agree within 3 %."""
    m = statistics.median(values)
    return (max(values) - min(values)) / m if m else float('nan')


def across_runs(runs: List[dict], key: str = 'median') -> Dict[str, dict]:
    """For each variant: the per-run values of ``key`` ('median' or 'ratio'),
    their median and their spread."""
    names = list(runs[0][key])
    return {
        n: dict(values=[r[key][n] for r in runs],
                median=statistics.median(r[key][n] for r in runs),
                spread=spread([r[key][n] for r in runs]))
        for n in names
    }


def format_report(runs: List[dict], baseline: Optional[str] = None, unit: str = 'ms',
                  scale: float = 1e3, labels: Optional[Dict[str, str]] = None) -> str:
    """A Markdown table: per variant, the median over images in each run, their
    median and spread, and (with a baseline) the paired ratio likewise."""
    labels = labels or {}
    med = across_runs(runs, 'median')
    rat = across_runs(runs, 'ratio') if baseline is not None else None
    head = f'| variant | {unit} / item, per run | median | spread |'
    sep = '|---|---|---|---|'
    if rat:
        head += ' ratio, per run | median | spread |'
        sep += '---|---|---|'
    lines = [head, sep]
    for n, m in med.items():
        row = (f'| {labels.get(n, n)} | ' + ', '.join(f'{v * scale:.3f}' for v in m['values'])
               + f' | {m["median"] * scale:.3f} | {100 * m["spread"]:.1f} % |')
        if rat:
            q = rat[n]
            row += (' ' + ', '.join(f'{v:.3f}' for v in q['values'])
                    + f' | **{q["median"]:.3f}** | {100 * q["spread"]:.1f} % |')
        lines.append(row)
    return '\n'.join(lines)
