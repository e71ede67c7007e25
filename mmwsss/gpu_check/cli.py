"""The options of the check (bounded numbers, --help with each part's criterion) and ``main``."""
import argparse
import os
import os.path as osp
import sys
import textwrap

from .check_env import worker_prepare
from .check_losses import worker_c
from .check_recipes import worker_b
from .checks import run_checks
from .plan import DRY, GPU, PARTS, ROOT, TIMEOUT_SHARES, criteria
from .recipes import RECIPES


def _load_argtypes():
    """mmwsss's bounded argparse types, read from their file: ``import mmwsss`` loads
    the whole stack, which part env is there to check, so the options cannot wait on it."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        'mmwsss_argtypes', osp.join(ROOT, 'mmwsss', 'cli', 'argtypes.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_argtypes = _load_argtypes()
int_at_least, nonneg_int = _argtypes.int_at_least, _argtypes.nonneg_int
positive_float, positive_int = _argtypes.positive_float, _argtypes.positive_int


def _parts_help(sizes: dict) -> str:
    lines = ['parts and their pass criteria:']
    for name, c in criteria(sizes).items():
        lines.append(f'  {name}  {PARTS[name]}')
        for label, text in (('pass', c['criterion']), ('reported, not judged', c['reported'])):
            if text:
                lines += textwrap.wrap(f'{label}: {text}', 88, initial_indent=' ' * 5,
                                       subsequent_indent=' ' * 7)
    return '\n'.join(lines)


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter,
                     argparse.RawDescriptionHelpFormatter):
    """Each option's default where its help does not give it (none for None or
    False: ``(default: None)`` says nothing), and the description and the parts'
    list as written."""

    def _get_help_string(self, action):
        if action.default in (None, False) or action.required or 'default' in action.help:
            return action.help
        return super()._get_help_string(action)


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        formatter_class=_HelpFormatter,
        description=textwrap.fill(
            'Check mmwsss on a GPU node: CUDA and NCCL against the CPU, the segmentor '
            'recipes, the saliency losses, AMP. Report: OUT/gpu_check.json and '
            'OUT/gpu_check.md, each part\'s result beside its pass criterion. Exit status '
            '0 when no part failed or timed out.', 88),
        epilog=_parts_help(GPU))
    p.add_argument('--out', required=True, help='report folder')
    p.add_argument('--scratch', default=None,
                   help='folder for the logs, per-part results, generated data and work '
                   'dirs (default: OUT); elsewhere keeps OUT to the report alone')
    p.add_argument('--dry-run', action='store_true',
                   help='the same parts on the CPU at toy sizes (checks the script)')
    p.add_argument('--parts', default='a,b,c,d',
                   help='comma-separated parts to run, in this order (default a,b,c,d)')
    p.add_argument('--iters', type=int_at_least(2), default=None,
                   help='training iterations per recipe and variant in b (default 20; '
                   'dry run 2)')
    p.add_argument('--recipes', default=','.join(RECIPES),
                   help=f'recipes of part b (default {",".join(RECIPES)})')
    p.add_argument('--nproc', type=positive_int, default=None,
                   help='processes per recipe in b (default: every GPU; dry run 1)')
    p.add_argument('--time-limit', type=positive_float, default=None,
                   help='seconds for the whole run; a part gets what is left at most '
                   f"(default {GPU['time_limit']}; dry run {DRY['time_limit']})")
    p.add_argument('--timeout', nargs='+', default=[], metavar='PART=S',
                   help='per-part timeouts in seconds, e.g. b=200 (parts: prepare, a-d; '
                   'default: each its share of --time-limit: ' + ', '.join(
                       f'{k} {round(100 * v)} %%' for k, v in TIMEOUT_SHARES.items()) + ')')
    # internal: the parts' own processes
    p.add_argument('--worker', choices=('prepare', 'b', 'c'), help=argparse.SUPPRESS)
    p.add_argument('--need-data', action='store_true', help=argparse.SUPPRESS)
    p.add_argument('--run-id', default=None, help=argparse.SUPPRESS)
    p.add_argument('--local_rank', '--local-rank', type=nonneg_int, default=0,
                   help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    args.sizes = dict(DRY if args.dry_run else GPU)
    if args.iters is not None:  # >= 2: one warm-up iteration
        args.sizes['iters'] = args.iters
    args.parts = [x.strip() for x in args.parts.split(',') if x.strip()]
    bad = [x for x in args.parts if x not in PARTS]
    if bad or not args.parts:
        p.error(f'--parts: unknown part(s) {bad}; choose from {",".join(PARTS)}')
    args.recipes = [x.strip() for x in args.recipes.split(',') if x.strip()]
    bad = [x for x in args.recipes if x not in RECIPES]
    if bad or not args.recipes:
        p.error(f'--recipes: unknown recipe(s) {bad}; choose from {",".join(RECIPES)}')
    if args.time_limit is None:
        args.time_limit = args.sizes['time_limit']
    timeouts = dict(args.sizes['timeouts'] or {
        k: round(share * args.time_limit) for k, share in TIMEOUT_SHARES.items()})
    for item in args.timeout:
        key, _, value = item.partition('=')
        try:
            timeouts[key] = positive_float(value)
        except argparse.ArgumentTypeError:
            key = None
        if key not in TIMEOUT_SHARES:
            p.error(f'--timeout {item!r}: want PART=SECONDS with PART in '
                    f'{",".join(TIMEOUT_SHARES)} and SECONDS > 0')
    args.timeouts = timeouts
    return args


def main(argv=None) -> int:
    """The checks as the user asked for them or, with ``--worker``, one part's process."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    if args.worker:
        args.out = osp.abspath(args.out)
        args.scratch = osp.abspath(args.scratch or args.out)
        os.makedirs(osp.join(args.scratch, 'parts'), exist_ok=True)
        if args.worker != 'prepare':  # which reports a broken stack: no mmwsss import
            from mmwsss.utils.upstream_noise import filter_upstream_warnings
            filter_upstream_warnings()  # the stack's deprecation notices, named there
        dict(prepare=worker_prepare, b=worker_b, c=worker_c)[args.worker](args)
        return 0
    return run_checks(args, argv)
