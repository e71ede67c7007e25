"""Bounded numbers for argparse's ``type=``, one for each kind of numeric flag.

Every numeric flag of every tool takes one of these (through :mod:`mmwsss.cli`):
NaN, infinity and values out of range are refused by argparse itself, as
``error: argument --x: want a number > 0, got 'nan'`` (exit code 2), before anything
runs. A bare ``type=int`` / ``type=float`` is a bug (tests/test_cli_bounds.py enumerates
the tools' parsers). No mmwsss import here: ``tools/gpu_check.py`` loads this file before
it knows whether the stack imports.
"""
import argparse
import math
from typing import Callable


def bounded(kind: type, ok: Callable, want: str) -> Callable:
    """An argparse ``type=``: ``kind(text)`` when it is finite and ``ok(value)``,
    else ``argparse.ArgumentTypeError`` saying what is wanted (``want``)."""

    def parse(text: str):
        try:
            value = kind(text)
        except (TypeError, ValueError):
            raise argparse.ArgumentTypeError(f'want {want}, got {text!r}') from None
        if not (math.isfinite(value) and ok(value)):
            raise argparse.ArgumentTypeError(f'want {want}, got {text!r}')
        return value

    parse.__name__ = parse.__qualname__ = want  # argparse names the type in some messages
    parse.bounded = want
    return parse


def int_at_least(low: int) -> Callable:
    """An integer ``>= low``."""
    return bounded(int, lambda v: v >= low, f'an integer >= {low}')


positive_int = int_at_least(1)  # counts: --nproc, --num, --size
nonneg_int = int_at_least(0)  # seeds, ranks, worker counts where 0 means "in this process"
positive_float = bounded(float, lambda v: v > 0, 'a number > 0')  # seconds, scales
nonneg_float = bounded(float, lambda v: v >= 0, 'a number >= 0')
unit_interval = bounded(float, lambda v: 0 <= v <= 1, 'a number in [0, 1]')  # τ, shares
fraction = bounded(float, lambda v: 0 < v <= 1, 'a number in (0, 1]')  # a non-empty share
