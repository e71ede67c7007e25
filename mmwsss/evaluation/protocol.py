"""Evaluation protocols: which checkpoint a run's reported numbers come from.

``last`` (every config's default): the last iteration's validation and
checkpoint; nothing is chosen on the evaluation set.

``wsss-bed`` (opt-in, ``configs/_base_/protocols/wsss_bed.py``): WSSS-BED's
DeepLab-V2 ``main.py`` validates every 100 iterations once 60 % of the
iterations have passed (``iteration > 0.6 * ITER_MAX``), keeps the checkpoint
with the best val mIoU and reports that one, without and with DenseCRF. The
checkpoint is selected on the evaluation set, so its numbers are optimistic
against ``last``; outputs say so and seeds of the two are never averaged.

A config opts in with a top-level ``eval_protocol`` dict (the mixin's one key,
so it can sit in any leaf's ``_base_`` list); :func:`apply_eval_protocol`
derives the loop's ``val_begin`` / ``val_interval`` and the checkpoint hook's
``save_best`` from it and ``train_cfg.max_iters``.
"""
from typing import List

from mmwsss.errors import WSSSConfigError

PROTOCOLS = {
    'last': dict(
        selects_on_eval=False,
        description='the last iteration: its validation and its checkpoint; no checkpoint '
        'is chosen on the evaluation set'),
    'wsss-bed': dict(
        selects_on_eval=True,
        description="WSSS-BED's: validation every val_interval iterations after val_from of "
        'training, the checkpoint with the best validation metric is reported; it is chosen '
        'on the evaluation set (optimistic against the last iteration)'),
}
_DEFAULTS = {'wsss-bed': dict(val_from=0.6, val_interval=100, metric='mIoU')}


def get_eval_protocol(cfg) -> dict:
    """The protocol a config (an mmengine ``Config`` or a plain dict, e.g. a run's
    config dump) declares, completed with its defaults: ``type``,
    ``selects_on_eval``, ``description`` and, for ``wsss-bed``, ``val_from``,
    ``val_interval``, ``metric``. A config without ``eval_protocol`` is ``last``.

    Raises:
        WSSSConfigError: an unknown type or an out-of-range setting, naming the key.
    """
    raw = cfg.get('eval_protocol') if hasattr(cfg, 'get') else None
    if raw is None:
        return dict(type='last', **PROTOCOLS['last'])
    if not isinstance(raw, dict) or raw.get('type') not in PROTOCOLS:
        got = raw.get('type') if isinstance(raw, dict) else raw
        raise WSSSConfigError(f'eval_protocol: unknown protocol {got!r}; one of '
                         f'{sorted(PROTOCOLS)} (e.g. _base_ configs/_base_/protocols/'
                         'wsss_bed.py)')
    kind = raw['type']
    out = dict(_DEFAULTS.get(kind, {}))
    unknown = set(raw) - set(out) - {'type'}
    if unknown:
        raise WSSSConfigError(f'eval_protocol: unknown key(s) {sorted(unknown)} for {kind!r}; '
                         f'it takes {sorted(out)}')
    out.update({k: v for k, v in raw.items() if k != 'type'})
    if kind == 'wsss-bed':
        val_from, interval = out['val_from'], out['val_interval']
        if isinstance(val_from, bool) or not isinstance(val_from, (int, float)) \
                or not 0 <= val_from < 1:
            raise WSSSConfigError(f'eval_protocol.val_from must be a fraction of training in '
                             f'[0, 1), got {val_from!r}')
        if isinstance(interval, bool) or not isinstance(interval, int) or interval < 1:
            raise WSSSConfigError(f'eval_protocol.val_interval must be a positive integer, got '
                             f'{interval!r}')
        if not isinstance(out['metric'], str) or not out['metric']:
            raise WSSSConfigError(f"eval_protocol.metric must name a metric (e.g. 'mIoU'), got "
                             f"{out['metric']!r}")
    return dict(type=kind, **PROTOCOLS[kind], **out)


def val_begin_of(max_iters: int, val_from: float) -> int:
    """The first iteration that may validate: WSSS-BED validates when
    ``iteration > val_from * max_iters`` (1-based), mmengine's loop when
    ``iter >= val_begin``."""
    return int(max_iters * val_from) + 1


def apply_eval_protocol(cfg) -> List[str]:
    """Set up ``cfg`` (in place) for its ``eval_protocol``; returns one phrase per
    change (nothing for ``last``).

    ``wsss-bed``: ``train_cfg.val_begin`` = :func:`val_begin_of` ``(max_iters,
    val_from)``, ``train_cfg.val_interval`` = ``val_interval``, and
    ``default_hooks.checkpoint.save_best`` = the metric with ``rule='greater'``
    (mmengine keeps one ``best_<metric>_iter_<N>.pth``). Run after every other
    change of ``max_iters`` (``--cfg-options``, ``--smoke``).

    Raises:
        WSSSConfigError: a bad ``eval_protocol`` or a config it cannot apply to (no
            iteration-based ``train_cfg``, no checkpoint hook).
    """
    protocol = get_eval_protocol(cfg)
    if protocol['type'] == 'last':
        return []
    train_cfg = cfg.get('train_cfg') or {}
    max_iters = train_cfg.get('max_iters')
    if not isinstance(max_iters, int) or isinstance(max_iters, bool) or max_iters < 1:
        raise WSSSConfigError(f"eval_protocol {protocol['type']!r} needs an iteration-based "
                         f'train_cfg (max_iters), got train_cfg={dict(train_cfg)!r}')
    hooks = cfg.get('default_hooks') or {}
    if not hooks.get('checkpoint'):
        raise WSSSConfigError(f"eval_protocol {protocol['type']!r} keeps the best checkpoint: "
                         'the config needs default_hooks.checkpoint')
    begin = val_begin_of(max_iters, protocol['val_from'])
    train_cfg.update(val_begin=begin, val_interval=protocol['val_interval'])
    hooks['checkpoint'].update(save_best=protocol['metric'], rule='greater')
    return [f"eval_protocol {protocol['type']}: validation every {protocol['val_interval']} "
            f'iterations from iteration {begin} of {max_iters} (train_cfg.val_begin, '
            f"val_interval), the best {protocol['metric']} kept as best_"
            f"{protocol['metric']}_iter_<N>.pth (default_hooks.checkpoint.save_best); it is "
            'chosen on the evaluation set']
