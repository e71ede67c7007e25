"""Several seeds of one config: mean ± std and ± standard error per metric.

A seed is one work dir of mmengine's layout: each run of ``tools/train.py``
(a resume included) adds ``<work_dir>/<timestamp>/`` holding
``<timestamp>.log``, ``vis_data/scalars.json`` (one JSON record a line: the
training logs and the validation metrics) and ``vis_data/config.py`` (the
config the run used). ``tools/test.py`` with the same ``--work-dir`` adds
timestamp folders too, with no training in them.

The run of a work dir is its newest *training* run, and it must have
finished: its last validation was logged at the loop's last iteration
(``train_cfg.max_iters``; ``max_epochs`` for an epoch-based loop). An older
finished run is never reported in its place.

Which validation stands for the run is its config's evaluation protocol
(:mod:`mmwsss.evaluation.protocol`): the last one (``last``, the default), or
the best one from ``val_begin`` on (``wsss-bed``: the checkpoint WSSS-BED
reports, chosen on the evaluation set). Runs of different protocols are never
summarised together.
"""
import json
import math
import os
import os.path as osp
import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

from .protocol import get_eval_protocol, val_begin_of

METRIC_KEYS = ('mIoU', 'aAcc', 'mAcc')
# what may differ between the seeds of one config: the seed, where it ran, and
# the names mmengine derives from the timestamp
SEED_KEYS = ('randomness', 'work_dir', 'launcher', 'resume', 'load_from', 'env_cfg',
             'experiment_name', 'visualizer.name')
_RUN_DIR = re.compile(r'\d{8}_\d{6}$')  # mmengine's timestamp folder
# log lines only a training run writes (CheckpointHook.before_train, LogProcessor)
_TRAIN_MARKS = ('Checkpoints will be saved to', '(train)')


class UnfinishedRunError(ValueError):
    """The newest training run of a work dir did not finish."""


@dataclass(frozen=True)
class SeedRun:
    """The run that stands for one seed.

    Args:
        work_dir (str): the seed's work dir.
        run_dir (str): ``<work_dir>/<timestamp>``, its newest training run.
        metrics (dict): the validation metrics (``mIoU``, ``IoU.<class>``...) that
            stand for the run under its protocol: the last validation's, or for
            ``wsss-bed`` the best one's.
        step (int): the iteration (or epoch) they were logged at.
        config (dict): the config the run used (``vis_data/config.py``).
        protocol (dict): its evaluation protocol
            (:func:`mmwsss.evaluation.protocol.get_eval_protocol`).
    """
    work_dir: str
    run_dir: str
    metrics: Dict[str, float]
    step: int
    config: dict = field(repr=False)
    protocol: dict = field(default_factory=lambda: get_eval_protocol({}))


def read_scalars(path: str) -> List[dict]:
    """The records of an mmengine ``scalars.json`` (one JSON object a line).

    Raises:
        ValueError: a line that is not a JSON object (a file cut short by a
            kill or a full disk), naming the file and the line number.
    """
    records = []
    with open(path, encoding='utf-8') as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f'{path}, line {n}: not a JSON record ({e.msg}); the file '
                                 'may be cut short (a killed run or a full disk)') from e
            if not isinstance(rec, dict):
                raise ValueError(f'{path}, line {n}: not a JSON object but a '
                                 f'{type(rec).__name__}')
            records.append(rec)
    return records


def _is_training_run(run_dir: str) -> bool:
    if osp.isfile(osp.join(run_dir, 'vis_data', 'scalars.json')):
        return True
    log = osp.join(run_dir, osp.basename(run_dir) + '.log')
    if not osp.isfile(log):
        return False
    with open(log, encoding='utf-8', errors='replace') as f:
        return any(mark in line for line in f for mark in _TRAIN_MARKS)


def training_runs(work_dir: str) -> List[str]:
    """The training runs of a work dir, oldest first (timestamp folders with a
    training log; the folders of test runs are left out)."""
    if not osp.isdir(work_dir):
        raise FileNotFoundError(f'{work_dir}: work dir not found')
    names = sorted(d for d in os.listdir(work_dir)
                   if _RUN_DIR.match(d) and osp.isdir(osp.join(work_dir, d)))
    return [osp.join(work_dir, d) for d in names if _is_training_run(osp.join(work_dir, d))]


def load_run_config(run_dir: str) -> dict:
    """The config a run used, from its ``vis_data/config.py`` dump."""
    from mmengine.config import Config
    path = osp.join(run_dir, 'vis_data', 'config.py')
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path}: the config dump of the run is missing, so whether '
                                'it finished and which config it ran cannot be told')
    try:
        return Config.fromfile(path, import_custom_modules=False,
                               format_python_code=False).to_dict()
    except Exception as e:
        raise ValueError(f'{path}: unreadable config dump ({e})') from e


def _last_step(config: dict) -> Optional[int]:
    """The step the last validation is logged at: ``max_iters`` when metrics are
    logged by iteration (mmseg's ``log_metric_by_epoch=False``), ``max_epochs``
    for an epoch-based loop logging them by epoch (mmengine's default); None
    when the config does not say."""
    train_cfg = config.get('train_cfg') or {}
    logger = (config.get('default_hooks') or {}).get('logger') or {}
    by_epoch = logger.get('log_metric_by_epoch', True) if isinstance(logger, dict) else True
    key = 'max_iters' if 'max_iters' in train_cfg and not by_epoch else \
        'max_epochs' if 'max_epochs' in train_cfg and by_epoch else None
    value = train_cfg.get(key) if key else None
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) \
        else None


def newest_run(work_dir: str) -> SeedRun:
    """The newest training run of a work dir with the validation metrics that stand
    for it under its protocol (the last validation's; the best one's from
    ``train_cfg.val_begin`` on for ``wsss-bed``, the first of equal bests, as
    mmengine's ``save_best`` keeps it).

    Raises:
        FileNotFoundError: no work dir, no training run, or no config dump.
        UnfinishedRunError: the newest training run did not log a validation at
            its last iteration (it was stopped, crashed, or is still running);
            naming it, the older runs are not used in its place.
        ValueError: a damaged ``scalars.json`` (file and line named); a run
            whose config declares ``wsss-bed`` but whose loop did not validate
            on its schedule (trained by a tool that does not apply it).
    """
    runs = training_runs(work_dir)
    if not runs:
        raise FileNotFoundError(f'{work_dir}: no training run (no <timestamp>/ folder with a '
                                'training log)')
    run = runs[-1]
    config = load_run_config(run)
    last = _last_step(config)
    scalars = osp.join(run, 'vis_data', 'scalars.json')
    records = read_scalars(scalars) if osp.isfile(scalars) else []
    vals = [r for r in records if any(k in r for k in METRIC_KEYS)]
    step = vals[-1].get('step') if vals else None
    if last is None:
        raise UnfinishedRunError(
            f'{run}: cannot tell whether the newest training run of {work_dir} finished: its '
            'config names no last step (train_cfg.max_iters with metrics logged by '
            'iteration, or max_epochs by epoch)')
    if step != last:
        older = f' ({len(runs) - 1} older run(s) there are not used in its place)' \
            if len(runs) > 1 else ''
        got = f'its last validation is at step {step}' if vals else 'it logged no validation'
        raise UnfinishedRunError(f'{run}: the newest training run of {work_dir} did not '
                                 f'finish: {got}, not at the last, {last}{older}. Let it '
                                 'finish (or --resume it) before summarising')
    protocol = get_eval_protocol(config)
    chosen = vals[-1]
    if protocol['type'] == 'wsss-bed':
        chosen = _best_validation(run, config, protocol, vals)
        step = chosen.get('step')
    metrics = {k: v for k, v in chosen.items() if k in METRIC_KEYS or k.startswith('IoU.')}
    bad = {k: v for k, v in metrics.items()
           if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v)}
    if bad:  # a string, null or NaN is no score: never averaged, never cast
        which = 'best' if protocol['type'] == 'wsss-bed' else 'last'
        raise ValueError(f'{scalars}: the {which} validation record (step {step}) holds values '
                         f'that are not finite numbers: {bad}')
    return SeedRun(work_dir, run, {k: float(v) for k, v in metrics.items()}, int(step), config,
                   protocol)


def _best_validation(run: str, config: dict, protocol: dict, vals: List[dict]) -> dict:
    """The ``wsss-bed`` record: the best ``protocol['metric']`` from ``val_begin`` on
    (the first of equal bests), after checking the run validated on the schedule
    the protocol sets."""
    train_cfg = config.get('train_cfg') or {}
    begin = val_begin_of(int(train_cfg['max_iters']), protocol['val_from'])
    if train_cfg.get('val_begin') != begin or \
            train_cfg.get('val_interval') != protocol['val_interval']:
        raise ValueError(
            f"{run}: its config declares eval_protocol 'wsss-bed' but the run validated "
            f"with val_begin={train_cfg.get('val_begin')}, val_interval="
            f"{train_cfg.get('val_interval')} instead of {begin}, {protocol['val_interval']}: "
            "it was trained by a tool that does not apply eval_protocol (mmseg's own "
            "tools/train.py?); train it with mmwsss's tools/train.py")
    metric = protocol['metric']
    best = None
    for rec in vals:
        if rec.get('step', 0) >= begin and metric in rec and \
                (best is None or rec[metric] > best[metric]):
            best = rec
    if best is None:
        raise ValueError(f'{run}: no validation logged {metric} from iteration {begin} on')
    return best


def check_same_protocol(runs: Sequence[SeedRun]) -> None:
    """Refuse to summarise runs of different evaluation protocols together (even
    with ``--mix-configs``): the best checkpoint chosen on the evaluation set and
    the last one are different quantities."""
    kinds = {}
    for run in runs:
        kinds.setdefault(run.protocol['type'], []).append(run.run_dir)
    if len(kinds) > 1:
        listed = '; '.join(f'{k}: {", ".join(v)}' for k, v in sorted(kinds.items()))
        raise ValueError('these runs used different evaluation protocols, which are never '
                         f'averaged together ({listed}): the best checkpoint chosen on the '
                         'evaluation set (wsss-bed) and the last one (last) are different '
                         'quantities; summarise each protocol apart')


def config_differences(a: dict, b: dict, ignore: Sequence[str] = SEED_KEYS,
                       prefix: str = '') -> List[str]:
    """Dotted keys whose values differ between two configs (``ignore``: keys,
    dotted, that may differ), each with both values."""
    out = []
    for k in sorted(set(a) | set(b), key=str):
        key = f'{prefix}{k}'
        if key in ignore:
            continue
        va, vb = a.get(k, '<unset>'), b.get(k, '<unset>')
        if isinstance(va, dict) and isinstance(vb, dict):
            out += config_differences(va, vb, ignore, key + '.')
        elif va != vb:
            out.append(f'{key}: {va!r} vs {vb!r}')
    return out


def check_same_config(runs: Sequence[SeedRun]) -> None:
    """Refuse seeds of different configs (other than :data:`SEED_KEYS`).

    Raises:
        ValueError: naming the two runs and up to 10 differing keys.
    """
    for run in runs[1:]:
        diff = config_differences(runs[0].config, run.config)
        if diff:
            shown = '\n  '.join(diff[:10]) + (f'\n  ... {len(diff) - 10} more'
                                               if len(diff) > 10 else '')
            raise ValueError(f'{runs[0].run_dir} and {run.run_dir} ran different configs '
                             f'({len(diff)} key(s) differ):\n  {shown}\nsummarise seeds of '
                             'one config, or pass --mix-configs (mix_configs=True)')


def mean_std_se(values: Sequence[float]) -> Dict[str, float]:
    """``mean``, ``std`` (sample standard deviation, n - 1; 0 for one value) and
    ``se`` (standard error of the mean, std / sqrt(n), as WSSS-BED reports)."""
    n = len(values)
    mean = sum(values) / n
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
    return dict(mean=mean, std=std, se=std / math.sqrt(n))


# two-sided 97.5 % quantiles of Student's t for 1-30 degrees of freedom (no scipy in the stack)
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179,
         2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064,
         2.060, 2.056, 2.052, 2.048, 2.045, 2.042)


def t_quantile_975(df: int) -> float:
    """Student's t at 0.975 (a two-sided 95 % interval) for ``df`` degrees of freedom."""
    if df < 1:
        raise ValueError(f'need at least 1 degree of freedom, got {df}')
    return _T975[df - 1] if df <= len(_T975) else 1.96


def sign_test(wins: int, losses: int) -> float:
    """Two-sided exact sign test: the probability of a split at least as uneven as
    ``wins``/``losses`` when each is equally likely (ties left out before)."""
    n = wins + losses
    if n == 0:
        return 1.0
    k = min(wins, losses)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n
    return min(1.0, 2 * tail)


def _betainc(a: float, b: float, x: float) -> float:
    """Regularised incomplete beta I_x(a, b) by its continued fraction (Lentz)."""
    if x <= 0 or x >= 1:
        return 0.0 if x <= 0 else 1.0
    if x > (a + 1) / (a + b + 2):  # the fraction converges fast on this side only
        return 1.0 - _betainc(b, a, 1 - x)
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) +
                     a * math.log(x) + b * math.log1p(-x)) / a
    tiny, f, c, d = 1e-300, 1.0, 1.0, 0.0
    for i in range(400):
        m = i // 2
        if i == 0:
            num = 1.0
        elif i % 2:
            num = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))
        else:
            num = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
        d = 1.0 + num * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + num / c
        c = c if abs(c) > tiny else tiny
        f *= c * d
        if abs(1.0 - c * d) < 1e-14:
            break
    return front * (f - 1.0)


def t_test_p(diffs: Sequence[float]) -> float:
    """Two-sided p of the one-sample t test that the mean of ``diffs`` is 0 (the
    paired t test of two methods' per-seed scores): ``I_{df/(df+t²)}(df/2, 1/2)``.
    1 for fewer than 2 values or no spread around a zero mean; 0 for no spread
    around another mean."""
    n = len(diffs)
    s = mean_std_se(diffs) if n else None
    if n < 2 or s['se'] == 0:
        return 1.0 if n < 2 or s['mean'] == 0 else 0.0
    t, df = s['mean'] / s['se'], n - 1
    return min(1.0, _betainc(df / 2, 0.5, df / (df + t * t)))


def holm(pvalues: Sequence[float]) -> List[float]:
    """Holm's step-down adjusted p-values of a family of tests, in the given order.

    Sorted ascending, the i-th smallest (1-based) of m is multiplied by
    ``m - i + 1``, capped at 1, and made non-decreasing; a comparison is
    significant at level α over the family when its adjusted p is ≤ α (the
    family-wise error rate is then at most α, whatever the dependence).
    """
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: pvalues[i])
    out, running = [0.0] * m, 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        out[i] = running
    return out


def paired_difference(a: Sequence[float], b: Sequence[float]) -> Dict[str, object]:
    """``a - b`` paired by seed: the per-seed differences, their mean, std and s.e.
    (:func:`mean_std_se`), the 95 % t interval of the mean (``lo``, ``hi``; equal to
    the mean for one seed), the wins/losses/ties of ``a``, the sign test's
    two-sided p (:func:`sign_test`) and the paired t test's (``t_p``,
    :func:`t_test_p`). ``tie`` is True when the interval holds 0."""
    if len(a) != len(b) or not a:
        raise ValueError(f'need the same seeds on both sides, got {len(a)} and {len(b)} values')
    diffs = [x - y for x, y in zip(a, b)]
    out: Dict[str, object] = dict(mean_std_se(diffs), n=len(diffs), diffs=diffs)
    half = t_quantile_975(len(diffs) - 1) * out['se'] if len(diffs) > 1 else 0.0
    out.update(lo=out['mean'] - half, hi=out['mean'] + half,
               wins=sum(d > 0 for d in diffs), losses=sum(d < 0 for d in diffs),
               ties=sum(d == 0 for d in diffs))
    out['sign_p'] = sign_test(out['wins'], out['losses'])
    out['t_p'] = t_test_p(diffs)
    out['tie'] = len(diffs) < 2 or out['lo'] <= 0 <= out['hi']
    return out


def summarize_runs(runs: Sequence[SeedRun]) -> Dict[str, dict]:
    """Per metric: ``mean``, ``std``, ``se`` (:func:`mean_std_se`), ``n`` and the
    ``values`` of each run (in order); metrics that some run lacks are left out."""
    if not runs:
        raise ValueError('no runs')
    keys = [k for k in runs[0].metrics if all(k in r.metrics for r in runs)]
    out = {}
    for k in keys:
        vals = [r.metrics[k] for r in runs]
        out[k] = dict(mean_std_se(vals), n=len(vals), values=vals)
    return out


def summarize_seeds(work_dirs: Sequence[str], mix_configs: bool = False) -> Dict[str, dict]:
    """:func:`summarize_runs` of the :func:`newest_run` of each work dir, after
    :func:`check_same_protocol` and, unless ``mix_configs``,
    :func:`check_same_config`."""
    if not work_dirs:
        raise ValueError('no work dirs')
    runs = [newest_run(d) for d in work_dirs]
    check_same_protocol(runs)
    if not mix_configs:
        check_same_config(runs)
    return summarize_runs(runs)
