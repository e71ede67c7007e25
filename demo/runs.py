"""The runs the demo and the method study are made of, and a resumable job runner.

A job is a JSON-able dict: ``kind='cls'`` trains the demo classifier
(``demo/configs/cls_synthetic.py``) with one saliency loss and seed, writes the
CAMs of the training split and scores their pseudo labels against the GT for
every τ of ``TAUS``, per part of the training images (``parts``: name → ids)
and per evaluation (``evals``: name → saliency folder, None for
``no_saliency`` mode); ``kind='seg'`` trains the demo segmentor on pseudo
labels, GT or both (``gt_subset``) and returns its val mIoU.

:func:`run_jobs` runs jobs in worker processes of one thread each. Each job's
mmengine output (config dump, hook table, logs, warnings) goes to
``<work_dir>/job.log``, not to the console; its result is written atomically
to ``<results>/<name>.json``, so a killed run resumes with the jobs not done.
A result is reused only for the same job made by the same code: it records
:func:`code_hash` (the package's sources and the demo's run code), and any
change there runs every job again.
"""
import copy
import functools
import glob
import hashlib
import json
import math
import multiprocessing as mp
import os
import os.path as osp
import shutil
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Callable, Dict, List, Optional

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = osp.join(ROOT, 'demo', 'configs')
TAUS = tuple(round(0.05 * i, 2) for i in range(20))  # 0 ... 0.95
SCORE_KEYS = ('miou_miss', 'miou_excl', 'ignored_share')
_JOB_LOGS = []  # the jobs' log files, open for the loggers made in them
# what a run's result depends on, besides its job: the package and the demo's run
# code, configs and data generator (not the scripts that only make tables)
CODE_GLOBS = ('mmwsss/**/*.py', 'demo/configs/**/*.py', 'demo/runs.py', 'demo/datasets.py',
              'demo/synthetic.py')


def code_hash(root: str = ROOT) -> str:
    """sha256 over the path and bytes of every file of ``CODE_GLOBS`` under
    ``root``, in sorted order: a result made by other code is not reused."""
    files = sorted({osp.relpath(f, root).replace(os.sep, '/')
                    for g in CODE_GLOBS for f in glob.glob(osp.join(root, g), recursive=True)
                    if osp.isfile(f)})
    h = hashlib.sha256()
    for rel in files:
        with open(osp.join(root, rel), 'rb') as f:
            data = f.read()
        h.update(f'{rel}\0{len(data)}\0'.encode())
        h.update(data)
    return h.hexdigest()


@functools.lru_cache(maxsize=None)
def _code_now() -> str:
    return code_hash()


@functools.lru_cache(maxsize=None)
def _parsed(name: str):
    from mmengine.config import Config

    # Parsed once a process: resolving the `mmseg::` scope reads mmseg's metafiles
    # (0.6 s). No yapf: mmengine formats the whole config on each dump, log and
    # checkpoint (9 times a run, 0.2-0.4 s each); the text stays valid Python.
    # (Config.fromfile drops format_python_code for a plain config: set here.)
    cfg = Config.fromfile(osp.join(CONFIGS, name))
    return Config(cfg.to_dict(), filename=cfg.filename, format_python_code=False)


def load_cfg(name: str):
    """A fresh copy of the demo config ``demo/configs/<name>``."""
    return copy.deepcopy(_parsed(name))


def _unique(cfg, work_dir: str) -> None:
    # mmengine keeps one visualizer and one logger per name in a process
    name = f"run_{osp.basename(work_dir)}_{os.getpid()}_{time.monotonic_ns()}"
    cfg.visualizer.name = cfg.experiment_name = name


def classifier_cfg(job: dict):
    """The classifier config of a ``cls`` job (see the module docstring)."""
    cfg = load_cfg('cls_synthetic.py')
    for loader in (cfg.train_dataloader, cfg.cam_dataloader):
        loader.dataset.data_root = job['data']
        loader.dataset.data_prefix.sal_path = job['sal_dir']
    cfg.model.saliency_loss = job['loss']  # replaced, not merged
    cfg.model.cam_scales = tuple(job['cam_scales'])
    if job.get('cam_norm'):  # 'relu_max': WSSS-BED's Eq. 1 CAM
        cfg.model.cam_norm = job['cam_norm']
    if job.get('gt_weight'):
        cfg.model.loss_gt_weight = job['gt_weight']
        cfg.train_dataloader.dataset.gt_subset = job['gt_subset']
    crop = (job['crop'], job['crop'])
    cfg.model.data_preprocessor.size = crop
    for t in cfg.train_dataloader.dataset.pipeline:
        if t.type == 'RandomResize':
            t.scale = (job['size'], job['size'])
        elif t.type == 'RandomCrop':
            t.crop_size = crop
    cfg.train_dataloader.batch_size = job['batch']
    _schedule(cfg, job['iters'])
    cfg.randomness = dict(seed=job['seed'], deterministic=True)
    cfg.work_dir = job['work_dir']
    _unique(cfg, job['work_dir'])
    return cfg


def _schedule(cfg, iters: int) -> None:
    cfg.train_cfg.max_iters = iters
    cfg.train_cfg.val_interval = iters + 1  # validated once, by runner.val()
    poly = [s for s in cfg.param_scheduler if s.type == 'PolyLR'][0]
    poly.end = iters
    if iters <= 2 * poly.begin:  # too short for the warm-up
        cfg.param_scheduler = [dict(poly, begin=0)]
    cfg.default_hooks.checkpoint.interval = iters
    cfg.default_hooks.logger.interval = max(1, min(50, iters // 5))


def segmentor_cfg(job: dict):
    """The segmentor config of a ``seg`` job: ``labels`` is ``'pseudo'``, ``'semi'``
    (pseudo labels, GT on ``gt_subset``) or ``'gt'``."""
    name = dict(pseudo='seg_synthetic.py', semi='seg_synthetic.py',
                gt='seg_synthetic_gt.py')[job['labels']]
    cfg = load_cfg(name)
    for loader in (cfg.train_dataloader, cfg.val_dataloader, cfg.test_dataloader):
        loader.dataset.data_root = job['data']
    ds = cfg.train_dataloader.dataset
    if job['labels'] != 'gt':
        ds.data_prefix.update(cam_path=job['cam_dir'], sal_path=job['sal_dir'])
        ds.pseudo_label_cfg.update(tau=job['tau'], mode=job['mode'])
    if job['labels'] == 'semi':
        ds.gt_subset = job['gt_subset']
    crop = (job['crop'], job['crop'])
    cfg.model.data_preprocessor.size = crop
    for t in ds.pipeline:
        if t.type == 'RandomResize':
            t.scale = (job['size'], job['size'])
        elif t.type == 'RandomCrop':
            t.crop_size = crop
    cfg.train_dataloader.batch_size = job['batch']
    cfg.train_cfg.max_iters = job['iters']
    cfg.train_cfg.val_interval = job['iters'] + 1
    cfg.param_scheduler[0].end = job['iters']
    cfg.default_hooks.checkpoint.interval = job['iters']
    cfg.default_hooks.logger.interval = max(1, min(50, job['iters'] // 5))
    cfg.randomness = dict(seed=job['seed'], deterministic=True)
    cfg.work_dir = job['work_dir']
    _unique(cfg, job['work_dir'])
    return cfg


def _train(cfg):
    """Train, or load the finished checkpoint of an interrupted job; the Runner."""
    from mmwsss.engine import QuietRunner as Runner
    ckpt = osp.join(cfg.work_dir, f'iter_{cfg.train_cfg.max_iters}.pth')
    if osp.isfile(ckpt):
        cfg.load_from = ckpt
        return Runner.from_cfg(cfg), ckpt
    runner = Runner.from_cfg(cfg)
    runner.train()
    return runner, ckpt


def score_cams(cam_dir: str, data: str, parts: Dict[str, Optional[List[str]]],
               evals: Dict[str, Optional[str]]) -> dict:
    """Pseudo-label scores of a CAM store for every τ of ``TAUS``.

    Returns:
        dict: ``scores[eval][part][key]``, a list over ``TAUS`` for each of
        ``SCORE_KEYS`` (in %); ``parts`` values are id lists (None: all images).
    """
    from mmwsss.evaluation import TauSweep, dataset_items, scores_from_confusion
    from mmwsss.fileio import CAMStore
    from mmwsss.functional import PseudoLabelRule
    cam_ds = load_cfg('cls_synthetic.py').cam_dataloader.dataset
    items, num_classes, _ = dataset_items(dict(cam_ds, data_root=data))
    out = {}
    for name, sal_dir in evals.items():
        mode = 'no_saliency' if sal_dir is None else 'saliency'
        sweep = TauSweep(CAMStore(cam_dir, 'npz'), PseudoLabelRule(mode=mode), TAUS,
                         num_classes, sal_dir)
        per_image = {item[0]: sweep.score(item) for item in items}
        out[name] = {}
        for part, ids in parts.items():
            cm = sum(per_image[i] for i in (ids if ids is not None else per_image))
            s = scores_from_confusion(cm)
            out[name][part] = {k: [round(100 * float(v), 3) for v in s[k]] for k in SCORE_KEYS}
    return out


def _cls_job(job: dict) -> dict:
    from mmwsss.apis import write_cam_store
    cfg = classifier_cfg(job)
    _, ckpt = _train(cfg)
    cam_dir = osp.join(job['work_dir'], 'cams')
    cfg.work_dir = osp.join(job['work_dir'], 'make_cams')
    _unique(cfg, cfg.work_dir)
    write_cam_store(cfg, ckpt, cam_dir)
    return dict(cam_dir=cam_dir, scores=score_cams(cam_dir, job['data'], job['parts'],
                                                   job['evals']))


def _seg_job(job: dict) -> dict:
    runner, _ = _train(segmentor_cfg(job))
    return dict(miou=float(runner.val()['mIoU']))


def run_job(job: dict) -> dict:
    """Run one job with its output in ``<work_dir>/job.log``; write and return its
    result (``seconds`` added)."""
    os.makedirs(job['work_dir'], exist_ok=True)
    log = osp.join(job['work_dir'], 'job.log')
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    # Python-level writers too (pytest puts its own sys.stdout over fd 1). The file
    # stays open: loggers made in the job keep writing to it (mmengine's 'current').
    log_f = open(log, 'a', buffering=1, encoding='utf-8')
    _JOB_LOGS.append(log_f)
    py_out, py_err = sys.stdout, sys.stderr
    os.dup2(log_f.fileno(), 1)
    os.dup2(log_f.fileno(), 2)
    sys.stdout = sys.stderr = log_f
    t0 = time.time()
    try:
        from mmwsss.utils.upstream_noise import filter_upstream_warnings
        filter_upstream_warnings()
        import demo.datasets  # noqa: F401  (registers mmwsss and the synthetic dataset)
        result = (_cls_job if job['kind'] == 'cls' else _seg_job)(job)
    finally:
        log_f.flush()
        sys.stdout, sys.stderr = py_out, py_err
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for f in saved:
            os.close(f)
    result = dict(result, name=job['name'], seconds=round(time.time() - t0, 1), job=job,
                  code=_code_now())
    from mmwsss.fileio import atomic_write
    text = json.dumps(result)
    atomic_write(job['result'], lambda f: f.write(text.encode()))
    return result


def _one_thread() -> None:
    if sys.platform.startswith('linux'):  # a worker ends with the study, not after its run
        import ctypes
        import signal
        ctypes.CDLL('libc.so.6', use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    import torch
    torch.set_num_threads(1)
    try:
        import cv2
        cv2.setNumThreads(1)
    except ImportError:
        pass


def _number(v) -> bool:
    return type(v) in (int, float) and math.isfinite(v)


def result_problem(job: dict, r, code: Optional[str] = None) -> Optional[str]:
    """Why ``r`` is not the result of ``job`` with every field the tables read
    (None: it is). A result proves what made it by the exact job it carries and
    the :func:`code_hash` it records (``code``; default: this checkout's)."""
    if not isinstance(r, dict):
        return 'not a JSON object'
    if 'job' not in r:
        return 'no job recorded: not known to be this run\'s'
    # compared as JSON holds it (tuples come back as lists)
    if r['job'] != json.loads(json.dumps(job)):
        return 'made for another job under the same name (iterations, data, settings)'
    if r.get('code') != (code or _code_now()):
        return ('made by other code (the sources of mmwsss/ or the demo\'s runs changed '
                'since; code hash ' + str(r.get('code'))[:12] + ')')
    if r.get('name') != job['name'] or not _number(r.get('seconds')):
        return "no 'name' or 'seconds'"
    if job['kind'] == 'seg':
        if not _number(r.get('miou')) or not 0 <= r['miou'] <= 100:
            return "no 'miou' in [0, 100]"
        return None
    if r.get('cam_dir') != osp.join(job['work_dir'], 'cams'):
        return "'cam_dir' is not this job's CAM store"
    if not osp.isdir(r['cam_dir']):  # the seg jobs and figures read it
        return f"its CAM store {r['cam_dir']} is gone"
    scores = r.get('scores')
    if not isinstance(scores, dict) or set(scores) != set(job['evals']):
        return f"'scores' not of the evaluations {sorted(job['evals'])}"
    for e, parts in scores.items():
        if not isinstance(parts, dict) or set(parts) != set(job['parts']):
            return f"'scores.{e}' not of the parts {sorted(job['parts'])}"
        for part, keys in parts.items():
            for k in SCORE_KEYS:
                v = keys.get(k) if isinstance(keys, dict) else None
                if not (isinstance(v, list) and len(v) == len(TAUS) and
                        all(_number(x) and 0 <= x <= 100 for x in v)):
                    return f"'scores.{e}.{part}.{k}' not {len(TAUS)} values in [0, 100]"
    return None


def read_result(job: dict, why: Optional[List[str]] = None) -> Optional[dict]:
    """A finished job's result, or None (the job runs again, and ``why`` gets the
    reason): when the file is missing or damaged, records no job or another job
    (other iterations, data, settings under the same name), or lacks a field the
    tables read (see :func:`result_problem`)."""
    path = job['result']
    if not osp.lexists(path):
        return None
    problem = None
    if not osp.isfile(path):
        problem = 'not a regular file'
    else:
        try:
            with open(path, encoding='utf-8') as f:
                r = json.load(f)
        except (OSError, ValueError, RecursionError) as e:
            problem = f'unreadable ({type(e).__name__})'
        else:
            problem = result_problem(job, r)
    if problem is not None:
        if why is not None:
            why.append(f'{path}: {problem}')
        return None
    return r


def remove_outputs(work: str, names) -> List[str]:
    """Remove the entries ``names`` of ``work`` (what a demo or study wrote there),
    nothing else; the paths removed."""
    gone = []
    for name in names:
        path = osp.join(work, name)
        if osp.isdir(path) and not osp.islink(path):
            shutil.rmtree(path)
        elif osp.lexists(path):
            os.remove(path)
        else:
            continue
        gone.append(path)
    return gone


def run_jobs(jobs: List[dict], nproc: int = 2, desc: str = 'runs',
             on_done: Optional[Callable[[dict, dict], str]] = None) -> Dict[str, dict]:
    """Run the jobs not finished before (no result file that proves it is theirs:
    :func:`read_result`; the reason is printed), ``nproc``
    at a time in worker processes of one thread each, with a progress bar and a
    line per job (``on_done(job, result)`` adds to it). A job that fails ends the
    run (the jobs not started are cancelled) with an error naming its log; its
    unfinished work dir is removed when the job is started again.

    Returns:
        dict: name → result, for every job.
    """
    from tqdm import tqdm
    results, todo, why = {}, [], []
    for job in jobs:
        r = read_result(job, why)
        if r is None:
            todo.append(job)
        else:
            results[job['name']] = r
    for line in why:
        print(f'{desc}: result not used, the run is done again: {line}', flush=True)
    if results:
        print(f'{desc}: {len(results)} of {len(jobs)} finished before (kept)', flush=True)
    if not todo:
        return results
    for job in todo:  # started before and cut short: start again from nothing
        if osp.isdir(job['work_dir']):
            shutil.rmtree(job['work_dir'])
    bar = tqdm(total=len(todo), desc=desc, unit='run', dynamic_ncols=True)

    def done(job, r):
        results[job['name']] = r
        extra = on_done(job, r) if on_done else ''
        bar.write(f"  {job['name']}: {r['seconds']:.0f} s{'  ' + extra if extra else ''}")
        bar.update(1)

    def failed(job, e):
        bar.close()
        raise RuntimeError(f"run {job['name']} failed ({type(e).__name__}: {e}); its log: "
                           f"{osp.join(job['work_dir'], 'job.log')}") from e

    if nproc <= 1:
        _one_thread()
        for job in todo:
            try:
                r = run_job(job)
            except Exception as e:
                failed(job, e)
            done(job, r)
    else:
        os.environ.setdefault('OMP_NUM_THREADS', '1')  # the workers' BLAS pools
        pool = ProcessPoolExecutor(nproc, mp_context=mp.get_context('spawn'),
                                   initializer=_one_thread)
        pending = {pool.submit(run_job, job): job for job in todo}
        try:
            while pending:
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in finished:
                    job = pending.pop(fut)
                    try:
                        r = fut.result()
                    except Exception as e:
                        failed(job, e)
                    done(job, r)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    bar.close()
    return results
